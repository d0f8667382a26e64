"""`.ci/run` must never pass a run that executed no test, and must pass on failures' exit status."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_ci(tmp_path: Path, fake_make: str) -> subprocess.CompletedProcess:
    """`.ci/run` with a stand-in `make` on PATH whose body is ``fake_make``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    make = bin_dir / "make"
    make.write_text("#!/usr/bin/env bash\nmkdir -p .reports\n" + fake_make)
    make.chmod(0o755)
    return _run(tmp_path, dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", CI="true"))


def _run(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    (tmp_path / ".ci").mkdir()
    shutil.copy(REPO / ".ci" / "run", tmp_path / ".ci" / "run")
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


def test_a_run_without_a_report_fails(tmp_path):
    result = run_ci(tmp_path, "exit 0\n")
    assert result.returncode != 0 and "no test report" in result.stderr


def test_a_stale_report_is_not_counted(tmp_path):
    (tmp_path / ".reports").mkdir()
    (tmp_path / ".reports" / "junit.xml").write_text('<testsuite tests="9" skipped="0" failures="0"/>')
    assert run_ci(tmp_path, "exit 0\n").returncode != 0


@pytest.mark.parametrize("code", [1, 2])
def test_a_failing_make_test_fails_ci_with_its_status_and_the_counts(tmp_path, code):
    result = run_ci(tmp_path, junit(4, failures=1) + f"exit {code}\n")
    assert result.returncode == code
    assert "CI: 3 passed, 1 failed, 0 skipped" in result.stdout


def test_pytests_exit_5_for_no_tests_reaches_ci_as_makes_exit_2(tmp_path):
    """The real chain: pytest exits 5 on an empty collection, make reports the failed recipe and exits 2."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    (tmp_path / "Makefile").write_text(
        "test:\n\t@mkdir -p .reports\n"
        '\t@echo \'<testsuites><testsuite tests="0" skipped="0" failures="0" errors="0"/></testsuites>\''
        " > .reports/junit.xml\n\t@exit 5\n"
    )
    result = _run(tmp_path, dict(os.environ, CI="true"))
    assert result.returncode == 2
    assert "Error 5" in result.stderr and "no test was executed" in result.stderr


def test_a_real_run_passes_and_prints_the_plain_summary(tmp_path):
    result = run_ci(tmp_path, junit(4, skipped=1) + "exit 0\n")
    assert result.returncode == 0
    assert "CI: 3 passed, 0 failed, 1 skipped" in result.stdout
