"""CountTokens requests: an InvokeModel body inside is prepared as InvokeModel would send it."""

from __future__ import annotations

import base64
import json

from bedrock_gateway.core.prepare import prepare_count_tokens
from bedrock_gateway.core.targets import parse_targets

CONFIG = parse_targets(
    '[targets.claude]\nmodel = "anthropic.claude-sonnet-4-6"\nlegacy_completions = true\n'
    '[targets.claude.defaults]\nanthropic_version = "bedrock-2023-05-31"\nmax_tokens = 1024\n'
    '[targets.plain]\nmodel = "amazon.nova-pro-v1:0"\n'
)


def _count_request(body: dict) -> bytes:
    return json.dumps(
        {"input": {"invokeModel": {"body": base64.b64encode(json.dumps(body).encode()).decode()}}}
    ).encode()


def _inner(prepared) -> dict:
    return json.loads(base64.b64decode(json.loads(prepared.body)["input"]["invokeModel"]["body"]))


def test_the_targets_defaults_are_merged_into_an_invoke_body():
    prepared = prepare_count_tokens(CONFIG, "claude", _count_request({"messages": [], "max_tokens": 9}))
    assert _inner(prepared) == {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 9, "messages": []}
    assert not prepared.legacy  # the answer is a count, never translated back


def test_a_text_completion_body_is_counted_as_the_messages_request_it_becomes():
    body = {"prompt": "\n\nHuman: hi\n\nAssistant:", "max_tokens_to_sample": 5}
    inner = _inner(prepare_count_tokens(CONFIG, "claude", _count_request(body)))
    assert inner["messages"] == [{"role": "user", "content": "hi"}] and inner["max_tokens"] == 5


def test_what_needs_no_change_goes_as_it_came():
    for raw in (
        _count_request({"prompt": "x", "max_gen_len": 5}),  # no defaults, no translation: same bytes
        b'{"input": {"converse": {"messages": []}}}',
        b'{"input": {"invokeModel": {"body": "not base64!"}}}',  # Bedrock refuses it in its own words
        b'{"input": 5}',
    ):
        assert prepare_count_tokens(CONFIG, "plain", raw).body is raw
