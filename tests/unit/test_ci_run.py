"""`.ci/run` must never pass a run that executed no test."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_ci(tmp_path: Path, fake_make: str) -> subprocess.CompletedProcess:
    (tmp_path / ".ci").mkdir()
    shutil.copy(REPO / ".ci" / "run", tmp_path / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    make = bin_dir / "make"
    make.write_text("#!/usr/bin/env bash\nmkdir -p .reports\n" + fake_make)
    make.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", CI="true")
    return subprocess.run(
        ["bash", ".ci/run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def junit(tests: int, skipped: int = 0, failures: int = 0) -> str:
    return (
        f'cat > .reports/junit.xml <<\'X\'\n<testsuites><testsuite tests="{tests}" skipped="{skipped}" '
        f'failures="{failures}" errors="0"/></testsuites>\nX\n'
    )


def test_a_run_with_no_tests_fails(tmp_path):
    result = run_ci(tmp_path, junit(0) + "exit 0\n")
    assert result.returncode != 0 and "no test was executed" in result.stderr


def test_a_run_where_everything_was_skipped_fails(tmp_path):
    result = run_ci(tmp_path, junit(3, skipped=3) + "exit 0\n")
    assert result.returncode != 0


@pytest.mark.parametrize("code", [1, 2, 5])
def test_a_failing_make_test_fails_ci_including_pytests_no_tests_exit_5(tmp_path, code):
    assert run_ci(tmp_path, junit(1) + f"exit {code}\n").returncode == code


def test_a_real_run_passes_and_prints_the_plain_summary(tmp_path):
    result = run_ci(tmp_path, junit(4, skipped=1) + "exit 0\n")
    assert result.returncode == 0
    assert "CI: 3 passed, 0 failed, 1 skipped" in result.stdout
