"""`make chaos --crash`, small and seeded: every failure of the worker's own at once, nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
#: Every switch of --crash, sized so that each fault happens in a run of under a minute.
SMALL_CRASH = [
    "--jobs", "100", "--crash", "--seed", "7", "--workers", "3", "--worker-timeout", "4",
    "--max-receive-count", "3", "--kill-every", "1-3", "--kill-at-write-rate", "0.03",
    "--slow-jobs", "1", "--duplicate-rate", "0.05", "--reset-rate", "0.03", "--truncate-rate", "0.03",
    "--store-throttle-rate", "0.02", "--store-error-rate", "0.01", "--store-timeout-rate", "0.01",
    "--timeout", "100",
]  # fmt: skip


def key_values(line: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in line.split())


@pytest.mark.slow
@pytest.mark.timeout(170)
def test_crashing_workers_a_failing_store_and_broken_answers_lose_no_job(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(REPO / p) for p in ("lambda_src", "local", ".")))
    for key in [k for k in env if k.startswith("AWS_ENDPOINT_URL")]:
        del env[key]
    run = subprocess.run(
        [sys.executable, "-m", "devstack.chaos", *SMALL_CRASH],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=160,
    )
    lines = run.stdout.splitlines()
    summary = key_values(next(line for line in lines if line.startswith("sent=")))
    faults = key_values(next(line for line in lines if line.startswith("faults: ")).removeprefix("faults: "))
    assert (summary["lost"], summary["conflicting"], summary["unexplained_extra"]) == ("0", "0", "0"), (
        run.stdout
    )
    assert int(summary["succeeded"]) + int(summary["failed"]) == int(summary["sent"]) == 100
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    # The run met what it claims to: kills, a failing store, broken answers, duplicate deliveries,
    # and at least the slow job (every delivery dies) through the DLQ consumer.
    assert int(faults["kills"]) > 0 and int(faults["store_faults"]) > 0, faults
    assert 0 < int(faults["direct"]) < 100, faults  # jobs the worker made the records of, and API jobs
    assert int(faults["broken_answers"]) > 0 and int(faults["duplicates"]) > 0, faults
    assert int(summary["dead_lettered"]) >= 1 and int(faults["dead_lettered_jobs"]) >= 1, summary
