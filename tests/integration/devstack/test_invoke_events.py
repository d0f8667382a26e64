"""`make invoke EVENT=...`: every sample event in events/ replays through its handler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from devstack.invoke import RESPONSE_MARKER

REPO = Path(__file__).resolve().parents[3]
EVENTS = sorted((REPO / "events").glob("*.json"))
EXPECTED_STATUS = {"invoke-unknown-target.json": 404, "invoke-malformed-body.json": 400}


def test_there_are_sample_events():
    assert len(EVENTS) >= 5


@pytest.mark.parametrize("event", EVENTS, ids=lambda p: p.name)
def test_sample_event_replays(event):
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(str(REPO / p) for p in ("lambda_src", "local", ".")),
        BEDROCK="emulator",
    )
    result = subprocess.run(
        [sys.executable, "-m", "devstack.invoke", str(event)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    response = json.JSONDecoder().raw_decode(result.stdout.split(RESPONSE_MARKER, 1)[1].lstrip())[0]
    if "batchItemFailures" in response:
        assert response == {"batchItemFailures": []}
    else:
        assert response["statusCode"] == EXPECTED_STATUS.get(event.name, 200), response
