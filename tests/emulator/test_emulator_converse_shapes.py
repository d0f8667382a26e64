"""Malformed Converse, ConverseStream, CountTokens and ApplyGuardrail bodies get Bedrock's 400, never a 5xx.

Most of these shapes boto3 refuses client-side, so they are posted as raw HTTP, as a non-SDK client
(or our gateway, which passes a body through unchanged) would send them.
"""

from __future__ import annotations

import copy
import http.client
import json
from urllib.parse import urlsplit

import pytest
from emulator_helpers import CLAUDE

HELLO = [{"role": "user", "content": [{"text": "Describe a day in a colony on Mars."}]}]
HELLO_BODY = {"messages": HELLO}
APPLY = "/guardrail/abc123def456/version/DRAFT/apply"
WRONG_TYPES = ["text", 7, 0.5, True, ["x"], {"x": 1}]
# Every member of a request that boto3 could send, each set, so that every path can be broken in turn.
FULL_CONVERSE = {
    "messages": [
        {"role": "user", "content": [{"text": "What is the weather in Paris?"}]},
        {
            "role": "assistant",
            "content": [
                {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": "tooluse_1",
                        "content": [{"json": {"c": 20}}],
                        "status": "success",
                    }
                },
                {"text": "And tomorrow?"},
            ],
        },
    ],
    "system": [{"text": "Be brief."}],
    "inferenceConfig": {"maxTokens": 50, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]},
    "toolConfig": {
        "tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}],
        "toolChoice": {"auto": {}},
    },
    "additionalModelResponseFieldPaths": ["/stop_reason"],
    "requestMetadata": {"team": "mars"},
    "performanceConfig": {"latency": "standard"},
}


def _post(emulator, path: str, body) -> tuple[int, str, dict]:
    """POST ``body`` (JSON-encoded unless bytes) to the emulator: status, error type, decoded JSON body."""
    split = urlsplit(emulator.url)
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=30)
    try:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        conn.request("POST", path, body=raw, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        payload = resp.read()
        error_type = (resp.getheader("X-Amzn-ErrorType") or "").split(":")[0]
        is_json = "json" in (resp.getheader("Content-Type") or "")
        return resp.status, error_type, json.loads(payload) if is_json else {}
    finally:
        conn.close()


def _paths(value, prefix=()):
    """Every path into ``value``'s dicts and lists (documents such as toolUse.input included)."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from _paths(item, (*prefix, key))


def _replaced(value, path, new):
    copied = copy.deepcopy(value)
    parent = copied
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = new
    return copied


@pytest.mark.parametrize("operation", ["converse", "converse-stream"])
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"messages": [{"role": "user", "content": "hi there"}]},
            "The format of the value at messages.0.content is invalid. Provide a list for the field and try again.",
        ),
        (
            {**HELLO_BODY, "system": "be brief"},
            "The format of the value at system is invalid. Provide a list for the field and try again.",
        ),
        (
            {"messages": [{"role": "user", "content": ["x"]}]},
            "The format of the value at messages.0.content.0 is invalid. Provide a json object for the field and "
            "try again.",
        ),
        (
            {"messages": [{"role": "user", "content": [1]}]},
            "The format of the value at messages.0.content.0 is invalid. Provide a json object for the field and "
            "try again.",
        ),
        (
            {**HELLO_BODY, "inferenceConfig": []},
            "The format of the value at inferenceConfig is invalid. Provide a json object for the field and try "
            "again.",
        ),
        (
            {"messages": ["hi"]},
            "The format of the value at messages.0 is invalid. Provide a json object for the field and try again.",
        ),
        (
            {**HELLO_BODY, "inferenceConfig": {"maxTokens": "a"}},
            "The format of the value at inferenceConfig.maxTokens is invalid. Provide an integer for the field and "
            "try again.",
        ),
        (
            {"messages": [{"role": "user"}]},
            "1 validation error detected: Value null at 'messages.1.member.content' failed to satisfy constraint: "
            "Member must not be null",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"toolUse": {"toolUseId": "t", "name": "f", "input": []}}]}
                ]
            },
            "The format of the value at messages.0.content.0.toolUse.input is invalid. Provide a json object for "
            "the field and try again.",
        ),
    ],
)
def test_malformed_converse_bodies_are_refused_with_400(emulator, operation, body, message):
    status, error_type, payload = _post(emulator, f"/model/{CLAUDE}/{operation}", body)
    assert (status, error_type, payload) == (400, "ValidationException", {"message": message})
    assert emulator.counters()["errors"] == {"ValidationException": 1}


def test_every_wrong_type_anywhere_in_a_converse_request_is_a_400(emulator):
    status, _, payload = _post(emulator, f"/model/{CLAUDE}/converse", FULL_CONVERSE)
    assert status == 200, payload
    answers = {}
    for path in list(_paths(FULL_CONVERSE))[1:]:  # every member but the body itself
        for wrong in WRONG_TYPES:
            status, error_type, payload = _post(
                emulator, f"/model/{CLAUDE}/converse", _replaced(FULL_CONVERSE, path, wrong)
            )
            answers[status] = answers.get(status, 0) + 1
            assert status < 500, (path, wrong, payload)
            if status != 200:
                assert error_type == "ValidationException" and isinstance(payload["message"], str), (
                    path,
                    wrong,
                )
    assert answers[400] > 200  # most substitutions are wrong; some fit (a dict in a document, ...)


def test_the_stream_refuses_a_malformed_body_before_it_starts(emulator):
    for body in (
        {"messages": ["hi"]},
        {**HELLO_BODY, "toolConfig": {"tools": "all"}},
        {**HELLO_BODY, "system": [{}]},
    ):
        status, error_type, payload = _post(emulator, f"/model/{CLAUDE}/converse-stream", body)
        assert (status, error_type) == (400, "ValidationException"), payload


def test_null_optional_members_are_absent(emulator):
    body = {
        **HELLO_BODY,
        "system": None,
        "inferenceConfig": {"maxTokens": None, "temperature": 0.2},
        "toolConfig": None,
    }
    status, _, payload = _post(emulator, f"/model/{CLAUDE}/converse", body)
    assert status == 200, payload
    assert payload["usage"]["inputTokens"] > 0


def test_a_null_message_is_refused(emulator):
    status, _, payload = _post(emulator, f"/model/{CLAUDE}/converse", {"messages": [None]})
    assert status == 400
    assert payload["message"] == (
        "1 validation error detected: Value null at 'messages.1.member' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_constraints_boto3_does_not_check_come_back_from_the_emulator(runtime):
    """botocore checks types and minimums client-side, not enums, patterns or maximums: the emulator does."""

    def message(**kwargs):
        with pytest.raises(runtime.exceptions.ValidationException) as info:
            runtime.converse(modelId=CLAUDE, **kwargs)
        return info.value.response["Error"]["Message"]

    system_first = [{"role": "system", "content": [{"text": "Be brief."}]}, *HELLO]
    assert message(messages=system_first) == (
        "1 validation error detected: Value 'system' at 'messages.1.member.role' failed to satisfy constraint: "
        "Member must satisfy enum value set: [user, assistant]"
    )
    dotted = {"toolSpec": {"name": "get.weather", "inputSchema": {"json": {"type": "object"}}}}
    assert message(messages=HELLO, toolConfig={"tools": [dotted]}) == (
        "1 validation error detected: Value 'get.weather' at 'toolConfig.tools.1.member.toolSpec.name' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern"
    )
    assert message(messages=HELLO, inferenceConfig={"stopSequences": ["x"] * 2501}).startswith(
        "1 validation error detected: Value '['x', "
    )
    assert message(messages=HELLO, inferenceConfig={"topP": 1.5}) == (
        "1 validation error detected: Value '1.5' at 'inferenceConfig.topP' failed to satisfy constraint: "
        "Member must have value less than or equal to 1"
    )


def test_count_tokens_and_apply_guardrail_refuse_malformed_bodies(emulator):
    for body in (
        {"input": {"converse": {"messages": [{"role": "user", "content": "hi"}]}}},
        {"input": {"converse": {"messages": ["hi"]}}},
        {"input": {"invokeModel": "e30="}},
        {"input": "converse"},
        {"input": {}},
    ):
        status, error_type, payload = _post(emulator, f"/model/{CLAUDE}/count-tokens", body)
        assert (status, error_type) == (400, "ValidationException"), (body, payload)
    ok = {"source": "INPUT", "content": [{"text": {"text": "hello"}}]}
    assert _post(emulator, APPLY, ok)[0] == 200
    for body in (
        {**ok, "content": [{"text": "hello"}]},
        {**ok, "content": ["hello"]},
        {**ok, "content": "hello"},
    ):
        status, error_type, payload = _post(emulator, APPLY, body)
        assert (status, error_type) == (400, "ValidationException"), (body, payload)
