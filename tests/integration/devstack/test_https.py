"""The local stack's HTTPS port: the same API, with a certificate clients verify against the local CA."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]


#: DevStack in a process of its own: its moto server shares moto's in-process state with the
#: session's (``local_aws``), and both create the stack's queue and tables under the same names.
SERVE = """
import json, sys
from devstack.stack import DevStack

if __name__ == "__main__":
    state = sys.argv[1]
    with DevStack(port=0, emulator_port=0, https_port=0, concurrency=1, worker_concurrency=1, auth="key",
                  log_dir=state + "/logs", tls_dir=state + "/tls") as stack:
        served = {"url": stack.url, "https_url": stack.https_url, "https_port": stack.https_port,
                  "port": stack.port, "ca_bundle": stack.ca_bundle, "dev_key": stack.dev_key}
        print("STACK " + json.dumps(served), flush=True)
        sys.stdin.read()  # until the test closes it
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    state = tmp_path_factory.mktemp("https-stack")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(REPO / p) for p in ("lambda_src", "local", ".")))
    for key in [k for k in env if k.startswith("AWS_ENDPOINT_URL")]:
        del env[key]
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(state)],
        cwd=state,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served, seen = None, []
    deadline = time.monotonic() + 60
    while served is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if line.startswith("STACK "):
            served = SimpleNamespace(**json.loads(line.removeprefix("STACK ")))
    try:
        if served is None:
            pytest.fail("the local stack did not start:\n" + "".join(seen))
        yield served
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _trusting(ca_bundle: str) -> ssl.SSLContext:
    """What an SDK does with AWS_CA_BUNDLE, as strictly as Python 3.13+ verifies by default."""
    context = ssl.create_default_context(cafile=ca_bundle)
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


def test_the_api_answers_over_https_to_a_client_that_trusts_the_local_ca(stack):
    assert stack.https_url.startswith("https://127.0.0.1:") and stack.https_port != stack.port
    assert Path(stack.ca_bundle).is_absolute() and Path(stack.ca_bundle).is_file()
    headers = {"Authorization": f"Bearer {stack.dev_key}"}
    with httpx.Client(verify=_trusting(stack.ca_bundle), headers=headers, timeout=30) as client:
        health = client.get(f"{stack.https_url}/v1/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert client.get(f"{stack.https_url}/v1/targets").json()["defaultTarget"]
        # auth=key holds over HTTPS as over HTTP.
        assert client.get(f"{stack.https_url}/v1/targets", headers={"Authorization": ""}).status_code == 401
    assert httpx.get(f"{stack.url}/v1/health", headers=headers, timeout=30).status_code == 200


def test_a_client_without_the_local_ca_refuses_the_certificate(stack):
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{stack.https_url}/v1/health", timeout=30)
