"""The text-completion adapter: exactly what is translated, and a clear refusal for the rest."""

from __future__ import annotations

import json

import pytest
from bedrock_gateway.core import legacy
from bedrock_gateway.core.errors import ErrorCode, GatewayError

PROMPT = "\n\nHuman: write an essay for living on mars in 1000 words\n\nAssistant:"


def test_the_reference_body_becomes_a_messages_body():
    body = {"prompt": PROMPT, "max_tokens_to_sample": 4000}
    assert legacy.is_legacy(body)
    assert legacy.to_messages(body) == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 4000,
        "messages": [{"role": "user", "content": "write an essay for living on mars in 1000 words"}],
    }


def test_preamble_turns_prefill_and_sampling_parameters():
    prompt = "You are terse.\n\nHuman: hi\n\nAssistant: hello\n\nHuman: and mars?\n\nAssistant: Mars is"
    body = {
        "prompt": prompt,
        "max_tokens_to_sample": 10,
        "stop_sequences": ["\n\nHuman:"],
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 5,
        "anthropic_version": "bedrock-2023-05-31",
    }
    translated = legacy.to_messages(body)
    assert translated["system"] == "You are terse."
    assert translated["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "and mars?"},
        {"role": "assistant", "content": "Mars is"},  # the answer's start, as Claude 2 continued it
    ]
    assert (translated["stop_sequences"], translated["temperature"], translated["top_k"]) == (
        ["\n\nHuman:"],
        0.2,
        5,
    )


@pytest.mark.parametrize(
    "body,message",
    [
        (
            {"prompt": PROMPT, "max_tokens_to_sample": 5, "logit_bias": {}},
            "no Messages equivalent for logit_bias",
        ),
        ({"prompt": "hello", "max_tokens_to_sample": 5}, "must be"),
        ({"prompt": "\n\nAssistant: hi\n\nHuman: x\n\nAssistant:", "max_tokens_to_sample": 5}, "from Human"),
        ({"prompt": "\n\nHuman: a\n\nHuman: b\n\nAssistant:", "max_tokens_to_sample": 5}, "alternate"),
        (
            {"prompt": "\n\nHuman:\n\nAssistant: x\n\nHuman: y\n\nAssistant:", "max_tokens_to_sample": 5},
            "empty Human",
        ),
        ({"prompt": PROMPT, "max_tokens_to_sample": "5"}, "an integer"),
        ({"prompt": PROMPT, "max_tokens_to_sample": True}, "an integer"),
    ],
)
def test_what_cannot_be_translated_is_refused_with_the_reason(body, message):
    with pytest.raises(GatewayError, match=message) as raised:
        legacy.to_messages(body)
    assert raised.value.code is ErrorCode.INVALID_REQUEST


def test_a_messages_body_is_not_taken_for_a_text_completion():
    assert not legacy.is_legacy({"messages": [], "max_tokens": 5})
    assert not legacy.is_legacy({"messages": [], "prompt": "x"})


def test_a_prompt_without_its_fields_is_refused_saying_which():
    # Sent on, Bedrock would refuse it as "<the current model> is not supported on this API", a
    # model the caller never named.
    for body, message in (
        ({"prompt": PROMPT}, "max_tokens_to_sample is missing"),
        (
            {"prompt": PROMPT, "max_tokens": 5},
            r"missing \(Claude 2 required it too; max_tokens is its Messages name\)$",
        ),
        (
            {"prompt": PROMPT, "max_gen_len": 5},
            "missing .*; no Messages equivalent for max_gen_len$",
        ),  # Llama's
    ):
        assert legacy.is_legacy(body)
        with pytest.raises(GatewayError, match=message) as raised:
            legacy.to_messages(body)
        assert raised.value.code is ErrorCode.INVALID_REQUEST


@pytest.mark.parametrize(
    "stop_reason,stop_sequence,expected",
    [
        ("end_turn", None, ("stop_sequence", "\n\nHuman:")),
        ("stop_sequence", "END", ("stop_sequence", "END")),
        ("max_tokens", None, ("max_tokens", None)),
    ],
)
def test_the_answer_comes_back_as_a_completion(stop_reason, stop_sequence, expected):
    answer = {
        "type": "message",
        "content": [{"type": "text", "text": "Mars "}, {"type": "text", "text": "awaits."}],
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
    }
    completion = json.loads(legacy.from_messages(json.dumps(answer).encode()))
    assert completion == {"completion": "Mars awaits.", "stop_reason": expected[0], "stop": expected[1]}


def test_an_answer_text_completions_cannot_express_is_refused():
    answer = {"content": [{"type": "tool_use", "name": "x", "input": {}}], "stop_reason": "tool_use"}
    with pytest.raises(GatewayError, match="tool_use"):
        legacy.from_messages(json.dumps(answer).encode())


def test_a_stream_is_translated_chunk_by_chunk_with_the_metrics_on_the_last():
    translator = legacy.StreamTranslator()
    metrics = {"inputTokenCount": 3, "outputTokenCount": 2, "invocationLatency": 5, "firstByteLatency": 1}
    events = [
        {"type": "message_start", "message": {"role": "assistant"}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Mars"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " awaits"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "max_tokens", "stop_sequence": None}},
        {"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics},
    ]
    out = [translator.translate(json.dumps(e).encode()) for e in events]
    chunks = [json.loads(c) for c in out if c is not None]
    assert chunks == [
        {"completion": "Mars", "stop_reason": None, "stop": None},
        {"completion": " awaits", "stop_reason": None, "stop": None},
        {
            "completion": "",
            "stop_reason": "max_tokens",
            "stop": None,
            "amazon-bedrock-invocationMetrics": metrics,
        },
    ]


def test_a_streamed_tool_call_is_refused():
    translator = legacy.StreamTranslator()
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "tool_use", "id": "t", "name": "x"},
    }
    with pytest.raises(GatewayError, match="non-text"):
        translator.translate(json.dumps(block).encode())
