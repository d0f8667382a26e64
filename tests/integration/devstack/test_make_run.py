"""`make run`'s entry point, end to end: the real command, real HTTP, every front door."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import CLAUDE_BODY

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def stack_url(tmp_path_factory):
    logs = tmp_path_factory.mktemp("logs")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(REPO / p) for p in ("lambda_src", "local", ".")))
    for key in [k for k in env if k.startswith("AWS_ENDPOINT_URL")]:
        del env[key]
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--port", "0", "--emulator-port", "0", "--concurrency", "2"],
        cwd=logs,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url, seen = None, []
    deadline = time.monotonic() + 60
    while url is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        match = re.search(r"API\s+(http://127\.0\.0\.1:\d+)/v1", line)
        url = match and match[1]
    if url is None:
        process.kill()
        pytest.fail("make run did not print its banner:\n" + "".join(seen))
    yield url
    children = _children(process.pid)
    assert children, "make run starts Lambda-like handler processes"
    process.terminate()
    process.wait(timeout=15)
    deadline = time.monotonic() + 15
    while (
        alive := [pid for pid in children if Path(f"/proc/{pid}").exists()]
    ) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive, f"make run left processes behind after SIGTERM: {alive}"


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_invoke_with_the_reference_body(stack_url):
    response = httpx.post(f"{stack_url}/v1/targets/claude/invoke", json=CLAUDE_BODY, timeout=30)
    assert response.status_code == 200
    assert response.json()["content"][0]["text"].strip()
    assert int(response.headers["x-bedrock-input-tokens"]) > 0
    assert int(response.headers["x-bedrock-output-tokens"]) > 0
    assert response.headers["x-amzn-requestid"]


def test_stream_with_the_reference_body_arrives_progressively(stack_url):
    started = time.perf_counter()
    arrivals, text = [], ""
    with httpx.stream(
        "POST", f"{stack_url}/v1/targets/claude/stream", json=CLAUDE_BODY, timeout=30
    ) as response:
        assert response.status_code == 200
        for piece in response.iter_text():
            text += piece
            arrivals.append(time.perf_counter() - started)
    assert text.count("event: chunk") > 3 and "event: done" in text
    # make run emulates 20 ms per chunk: the essay must not arrive in one piece at the end.
    assert arrivals[-1] - arrivals[0] > 0.2, arrivals


def test_jobs_round_trip_through_sqs(stack_url):
    posted = httpx.post(
        f"{stack_url}/v1/jobs", json={"target": "claude", "jobId": "e2e-1", "body": CLAUDE_BODY}
    )
    assert posted.status_code == 202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = httpx.get(f"{stack_url}{posted.headers['location']}").json()
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.2)
    assert job["status"] == "succeeded", job
    assert job["result"]["content"][0]["text"]


def test_errors_are_json_through_the_adapter(stack_url):
    response = httpx.post(f"{stack_url}/v1/targets/nope/invoke", json=CLAUDE_BODY)
    assert response.status_code == 404 and response.json()["error"]["code"] == "TargetNotFound"
    response = httpx.post(f"{stack_url}/v1/targets/claude/invoke", content=b"{broken")
    assert (
        response.status_code == 400
        and response.json()["error"]["requestId"] == response.headers["x-amzn-requestid"]
    )
    assert httpx.get(f"{stack_url}/v1/targets").json()["defaultTarget"] == "claude"
    assert json.loads(httpx.get(f"{stack_url}/v1/health").text)["status"] == "ok"
