"""Integration fixtures: the real handlers, real boto3, and the Bedrock emulator over HTTP."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from bedrock_emulator import Emulator, emulator_env
from devstack.apigw import LambdaContext, build_event, response_parts

#: The local queues' settings in integration tests: consistent with the worker timeout tests give
#: their handlers (a redelivery never meets a dead delivery's live lease).
WORKER_TIMEOUT_MS = 5_000


def _test_queue():
    from devstack.aws import QueueSettings

    return QueueSettings(
        visibility_timeout=8,
        max_receive_count=3,
        retry_base_seconds=0,
        worker_timeout=WORKER_TIMEOUT_MS / 1000,
        dead_letter_hold=1,
    )


#: Every identifier kind and current model family (the emulator's account has their resources).
TARGETS_FILE = Path(__file__).with_name("targets.toml")
CLAUDE_MODEL = "global.anthropic.claude-sonnet-4-6"
CLAUDE_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 4000,
    "messages": [{"role": "user", "content": "write an essay for living on mars in 1000 words"}],
}


@pytest.fixture(scope="session")
def emulator():
    with Emulator(port=0) as emu:
        yield emu


@pytest.fixture(scope="session")
def bedrock_env(emulator):
    """Point boto3 at the emulator for the whole session; one attempt per call unless a test says otherwise."""
    from bedrock_gateway import settings
    from bedrock_gateway.core import bedrock

    patch = pytest.MonkeyPatch()
    for key, value in emulator_env(emulator.url).items():
        patch.setenv(key, value)
    patch.setenv("TARGETS_FILE", str(TARGETS_FILE))
    settings.reset()
    # One attempt per call unless a test says otherwise (the sync_attempts fixture).
    patch.setattr(settings, "SYNC_ATTEMPTS", 1)
    patch.setattr(settings, "STREAM_OPEN_ATTEMPTS", 1)
    patch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    bedrock.reset()
    yield
    patch.undo()
    bedrock.reset()
    settings.reset()


@pytest.fixture
def replace_config(monkeypatch):
    """``replace_config(max_body_bytes=...)``: the handlers see the targets config with these changes."""
    import dataclasses

    from bedrock_gateway import settings

    def apply(**changes):
        config = dataclasses.replace(settings.targets(), **changes)
        monkeypatch.setattr(settings, "targets", lambda: config)
        return config

    return apply


@pytest.fixture
def emu(emulator, bedrock_env):
    emulator.reset()
    yield emulator
    emulator.reset()


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@pytest.fixture(scope="session")
def api_module(bedrock_env):
    import bedrock_gateway.handlers.api as api

    return api


@pytest.fixture
def call_api(api_module, emu):
    """Send one request through API Gateway's proxy event format to the real sync handler."""

    def call(
        method: str, path: str, body=None, headers: dict[str, str] | None = None, context: dict | None = None
    ) -> ApiResponse:
        """``context``: merged into the request context (an IAM ``identity``, an ``authorizer``'s context)."""
        if body is None:
            raw = b""
        elif isinstance(body, bytes):
            raw = body
        else:
            raw = json.dumps(body).encode()
        header_list = list({"Content-Type": "application/json", **(headers or {})}.items())
        event = build_event(method, path, "", header_list, raw)
        for key, value in (context or {}).items():
            event["requestContext"][key] = {**event["requestContext"].get(key, {}), **value}
        result = api_module.handler(event, LambdaContext())
        status, response_headers, payload = response_parts(result)
        return ApiResponse(status, {k.lower(): v for k, v in response_headers}, payload)

    return call


@contextlib.contextmanager
def served(app):
    """``app`` under uvicorn on a free 127.0.0.1 port, in a thread; yields its URL."""
    import threading
    import time

    import uvicorn
    from devstack.stack import bind

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


@pytest.fixture(scope="session")
def stream_url(bedrock_env):
    """The stream ASGI app served by uvicorn on a free port, as the Lambda Web Adapter runs it."""
    from bedrock_gateway.handlers.stream_app import app

    with served(app) as url:
        yield url


class InProcessFunction:
    """A handler run in this process's threads, behind the local API Gateway stand-in (``make run``
    runs it in a process pool; its own tests cover that)."""

    def __init__(self, handler):
        from concurrent.futures import ThreadPoolExecutor

        self.handler = handler
        self._pool = ThreadPoolExecutor(8)

    def submit(self, event: dict):
        return self._pool.submit(self._run, event)

    def _run(self, event: dict) -> dict:
        try:
            return {"ok": True, "result": self.handler(event, LambdaContext())}
        except Exception:
            return {"ok": False}


@pytest.fixture(scope="session")
def gateway_url(api_module):
    """Both doors behind the local API Gateway stand-in, on a free port: the sync handler (in this
    process) and the stream app, as ``make run`` serves them, without authorization."""
    from bedrock_gateway.handlers.stream_app import app as stream_app
    from devstack.server import create_app

    with served(create_app(InProcessFunction(api_module.handler), stream_app)) as url:
        yield url


@pytest.fixture(scope="session")
def local_aws(bedrock_env):
    """moto in server mode with the stack's queue, DLQ, tables and bucket; env set for the handlers."""
    import os

    from devstack.aws import LocalAws

    saved = dict(os.environ)
    aws = LocalAws(settings=_test_queue()).start()
    _reread_settings()
    yield aws
    aws.stop()
    os.environ.clear()
    os.environ.update(saved)
    _reread_settings()


def _reread_settings() -> None:
    from bedrock_gateway import container, settings
    from bedrock_gateway.core import bedrock

    settings.reset()
    container.reset()
    bedrock.reset()  # the AWS clients, the data plane's signed-HTTP client and the capabilities


@pytest.fixture
def worker_module(local_aws):
    import bedrock_gateway.handlers.worker as worker

    return worker


@pytest.fixture
def aws(local_aws, emu, monkeypatch):
    """A queue, DLQ, tables and bucket of this test's own (nothing another test left can show up)."""
    import uuid

    env = local_aws.create_resources(f"-{uuid.uuid4().hex[:8]}")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(local_aws, "env", dict(local_aws.env, **env))
    _reread_settings()
    yield local_aws
    monkeypatch.undo()
    _reread_settings()


@pytest.fixture
def replace_settings(monkeypatch):
    """``replace_settings(jobs_queue_url=...)``: the handlers see their settings with these changes."""
    import dataclasses

    from bedrock_gateway import settings

    def apply(**changes):
        changed = dataclasses.replace(settings.current(), **changes)
        monkeypatch.setattr(settings, "current", lambda: changed)
        return changed

    return apply


@pytest.fixture
def store_faults(aws, monkeypatch):
    """``store_faults(StoreFaults(...))``: the handlers reach DynamoDB and S3 through the fault proxy."""
    from devstack.store_faults import StoreFaultProxy

    proxies = []

    def apply(faults, *, read_timeout: float | None = None, on_kill=None):
        proxy = StoreFaultProxy(aws.url, faults, on_kill=on_kill).start()
        proxies.append(proxy)
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        if read_timeout is not None:
            monkeypatch.setenv("STORE_READ_TIMEOUT_SECONDS", str(read_timeout))
        _reread_settings()
        return proxy

    yield apply
    for proxy in proxies:
        proxy.stop()


def iam_context(unique_id: str) -> dict:
    """The request context API Gateway builds for a SigV4-signed call by an assumed role."""
    return {
        "identity": {
            "caller": f"{unique_id}:session",
            "user": f"{unique_id}:session",
            "userArn": f"arn:aws:sts::210987654321:assumed-role/role-{unique_id}/session",
            "accountId": "210987654321",
        }
    }


def key_context(tenant: str, targets: str = "") -> dict:
    """The request context after the gateway key authorizer accepted a key of ``tenant``."""
    return {
        "authorizer": {
            "tenant": tenant,
            "keyId": f"k-{tenant}",
            "targets": targets,
            "principalId": f"key:{tenant}",
        }
    }
