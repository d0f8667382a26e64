"""Integration fixtures: the real handlers, real boto3, and the Bedrock emulator over HTTP."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from bedrock_emulator import Emulator, emulator_env
from devstack.apigw import LambdaContext, build_event, response_parts

CLAUDE_BODY = {
    "prompt": "\n\nHuman: write an essay for living on mars in 1000 words\n\nAssistant:",
    "max_tokens_to_sample": 4000,
}


@pytest.fixture(scope="session")
def emulator():
    with Emulator(port=0) as emu:
        yield emu


@pytest.fixture(scope="session")
def bedrock_env(emulator):
    """Point boto3 at the emulator for the whole session; one attempt per call unless a test says otherwise."""
    from bedrock_gateway.core import bedrock

    patch = pytest.MonkeyPatch()
    for key, value in emulator_env(emulator.url).items():
        patch.setenv(key, value)
    patch.setenv("BEDROCK_MAX_ATTEMPTS", "1")
    patch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    bedrock.reset_clients()
    yield
    patch.undo()
    bedrock.reset_clients()


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

    def call(method: str, path: str, body=None, headers: dict[str, str] | None = None) -> ApiResponse:
        if body is None:
            raw = b""
        elif isinstance(body, bytes):
            raw = body
        else:
            raw = json.dumps(body).encode()
        header_list = list({"Content-Type": "application/json", **(headers or {})}.items())
        event = build_event(method, path, "", header_list, raw)
        result = api_module.handler(event, LambdaContext())
        status, response_headers, payload = response_parts(result)
        return ApiResponse(status, {k.lower(): v for k, v in response_headers}, payload)

    return call
