"""`make test` runs the pinned linters and type checker first, and a finding fails it."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_make_test_runs_ruff_and_mypy_before_pytest():
    plan = subprocess.run(
        ["make", "-n", "test", "PY=true", "VENV=.venv"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    steps = [line for line in plan.splitlines() if any(tool in line for tool in ("ruff", "mypy", "pytest"))]
    assert [
        next(t for t in ("ruff check", "ruff format --check", "mypy", "pytest") if t in s) for s in steps
    ] == [
        "ruff check",
        "ruff format --check",
        "mypy",
        "pytest",
    ]


def test_the_checkers_are_pinned():
    pins = (REPO / "requirements" / "dev.in").read_text().splitlines()
    assert any(line.startswith("ruff==") for line in pins)
    assert any(line.startswith("mypy==") for line in pins)


def test_a_finding_fails_the_lint_step(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")  # unused import
    ruff = REPO / ".venv" / "bin" / "ruff"
    result = subprocess.run([str(ruff), "check", "--config", str(REPO / "pyproject.toml"), str(bad)])
    assert result.returncode != 0
