"""Every model family answers in its own native format, sync and streaming, consistently."""

from __future__ import annotations

import json
from datetime import date

import pytest
from bedrock_emulator.families import _VOCAB, count_tokens
from emulator_helpers import CLAUDE, read_stream

PROMPT = "Describe a day in a colony on Mars in a few sentences."

# family: (model ID, request body, text of a sync body, text of one stream chunk, output count in a sync body)
FAMILIES = {
    "anthropic-completions": (
        "anthropic.claude-v2",
        {"prompt": f"\n\nHuman: {PROMPT}\n\nAssistant:", "max_tokens_to_sample": 500},
        lambda b: b["completion"],
        lambda c: c["completion"],
        None,
    ),
    "anthropic-messages": (
        CLAUDE,
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 500,
            "system": "Be brief.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}],
        },
        lambda b: b["content"][0]["text"],
        lambda c: c["delta"]["text"] if c["type"] == "content_block_delta" else "",
        lambda b: b["usage"]["output_tokens"],
    ),
    "titan-text": (
        "amazon.titan-text-express-v1",
        {"inputText": PROMPT, "textGenerationConfig": {"maxTokenCount": 500, "temperature": 0.5}},
        lambda b: b["results"][0]["outputText"],
        lambda c: c["outputText"],
        lambda b: b["results"][0]["tokenCount"],
    ),
    "nova": (
        "amazon.nova-lite-v1:0",
        {
            "schemaVersion": "messages-v1",
            "system": [{"text": "Be brief."}],
            "messages": [{"role": "user", "content": [{"text": PROMPT}]}],
            "inferenceConfig": {"maxTokens": 500},
        },
        lambda b: b["output"]["message"]["content"][0]["text"],
        lambda c: c["contentBlockDelta"]["delta"]["text"] if "contentBlockDelta" in c else "",
        lambda b: b["usage"]["outputTokens"],
    ),
    "llama": (
        "meta.llama3-8b-instruct-v1:0",
        {"prompt": PROMPT, "max_gen_len": 500, "temperature": 0.5},
        lambda b: b["generation"],
        lambda c: c["generation"],
        lambda b: b["generation_token_count"],
    ),
    "mistral": (
        "mistral.mistral-7b-instruct-v0:2",
        {"prompt": f"<s>[INST] {PROMPT} [/INST]", "max_tokens": 500},
        lambda b: b["outputs"][0]["text"],
        lambda c: c["outputs"][0]["text"],
        None,
    ),
    "openai-chat": (
        "openai.gpt-oss-120b-1:0",
        {
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": PROMPT}],
            "max_tokens": 500,
        },
        lambda b: b["choices"][0]["message"]["content"],
        lambda c: c["choices"][0]["delta"].get("content") or "" if "choices" in c else "",
        lambda b: b["usage"]["completion_tokens"],
    ),
    "deepseek-r1": (
        "us.deepseek.r1-v1:0",
        {"prompt": PROMPT, "max_tokens": 500},
        lambda b: b["choices"][0]["text"],
        lambda c: c["choices"][0]["text"],
        None,
    ),
    "cohere-chat": (
        "cohere.command-r-v1:0",
        {"message": PROMPT, "preamble": "Be brief.", "max_tokens": 500},
        lambda b: b["text"],
        lambda c: c.get("text", "") if c.get("event_type") == "text-generation" else "",
        None,
    ),
}
# Families whose every model is retired: exercised as of a day before their EOL dates.
RETIRED = {"anthropic-completions": date(2025, 6, 1), "cohere-chat": date(2026, 3, 1)}

NATURAL_STOP = {
    "anthropic-completions": lambda b: (b["stop_reason"], b["stop"]) == ("stop_sequence", "\n\nHuman:"),
    "anthropic-messages": lambda b: b["stop_reason"] == "end_turn",
    "titan-text": lambda b: b["results"][0]["completionReason"] == "FINISH",
    "nova": lambda b: b["stopReason"] == "end_turn",
    "llama": lambda b: b["stop_reason"] == "stop",
    "mistral": lambda b: b["outputs"][0]["stop_reason"] == "stop",
    "openai-chat": lambda b: b["choices"][0]["finish_reason"] == "stop",
    "deepseek-r1": lambda b: b["choices"][0]["stop_reason"] == "stop",
    "cohere-chat": lambda b: b["finish_reason"] == "COMPLETE",
}

TRUNCATED = {
    "anthropic-completions": (
        "max_tokens_to_sample",
        lambda b: (b["stop_reason"], b["stop"]) == ("max_tokens", None),
    ),
    "anthropic-messages": ("max_tokens", lambda b: b["stop_reason"] == "max_tokens"),
    "titan-text": (
        "textGenerationConfig.maxTokenCount",
        lambda b: b["results"][0]["completionReason"] == "LENGTH",
    ),
    "nova": ("inferenceConfig.maxTokens", lambda b: b["stopReason"] == "max_tokens"),
    "llama": ("max_gen_len", lambda b: b["stop_reason"] == "length"),
    "mistral": ("max_tokens", lambda b: b["outputs"][0]["stop_reason"] == "length"),
    "openai-chat": ("max_tokens", lambda b: b["choices"][0]["finish_reason"] == "length"),
    "deepseek-r1": ("max_tokens", lambda b: b["choices"][0]["stop_reason"] == "length"),
    "cohere-chat": ("max_tokens", lambda b: b["finish_reason"] == "MAX_TOKENS"),
}


@pytest.fixture(autouse=True)
def _as_of_family_lifetime(request, emulator):
    family = getattr(request.node, "callspec", None) and request.node.callspec.params.get("family")
    if family in RETIRED:
        emulator.set_lifecycle_date(RETIRED[family])


def _set(body: dict, dotted: str, value) -> dict:
    body = json.loads(json.dumps(body))
    *path, last = dotted.split(".")
    node = body
    for key in path:
        node = node[key]
    node[last] = value
    return body


def _invoke(runtime, model_id: str, body: dict):
    resp = runtime.invoke_model(modelId=model_id, body=json.dumps(body))
    return resp, json.loads(resp["body"].read())


@pytest.mark.parametrize("family", FAMILIES)
def test_sync_and_stream_agree(runtime, family):
    model_id, body, sync_text, chunk_text, body_count = FAMILIES[family]
    resp, payload = _invoke(runtime, model_id, body)
    headers = resp["ResponseMetadata"]["HTTPHeaders"]
    text = sync_text(payload)
    out_tokens = int(headers["x-amzn-bedrock-output-token-count"])
    in_tokens = int(headers["x-amzn-bedrock-input-token-count"])
    assert resp["contentType"] == "application/json"
    assert 30 <= out_tokens <= 120, "natural length"
    assert count_tokens(text) == out_tokens
    assert in_tokens > 0
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 0
    if body_count:
        assert body_count(payload) == out_tokens
    assert NATURAL_STOP[family](payload)

    stream = runtime.invoke_model_with_response_stream(modelId=model_id, body=json.dumps(body))
    assert stream["contentType"] == "application/json"
    chunks = read_stream(stream)
    assert len(chunks) >= 5
    assert "".join(chunk_text(c) for c in chunks) == text
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert all("amazon-bedrock-invocationMetrics" not in c for c in chunks[:-1])
    assert metrics["inputTokenCount"] == in_tokens
    assert metrics["outputTokenCount"] == out_tokens
    assert metrics["invocationLatency"] >= metrics["firstByteLatency"] >= 0


def test_a_natural_ending_is_a_whole_word(runtime):
    """Only a limit stops a model mid-word; an answer that ends by itself ends after a whole word."""
    model_id, body, sync_text, *_ = FAMILIES["anthropic-messages"]
    vocabulary = {word.lower() for word in _VOCAB}
    for index in range(25):
        asked = _set(body, "messages", [{"role": "user", "content": f"{PROMPT} ({index})"}])
        _, payload = _invoke(runtime, model_id, asked)
        assert payload["stop_reason"] == "end_turn"
        last_word = sync_text(payload).split()[-1].rstrip(".").lower()
        assert last_word in vocabulary, sync_text(payload)


@pytest.mark.parametrize("family", FAMILIES)
def test_max_tokens_truncates(runtime, family):
    model_id, body, sync_text, chunk_text, _ = FAMILIES[family]
    field, truncated = TRUNCATED[family]
    resp, payload = _invoke(runtime, model_id, _set(body, field, 7))
    assert count_tokens(sync_text(payload)) == 7
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-output-token-count"] == "7"
    assert truncated(payload)


def test_native_stream_shapes(runtime, emulator):
    """The stream events of the families whose streams have structure of their own."""
    _, body, *_ = FAMILIES["anthropic-messages"]
    chunks = read_stream(runtime.invoke_model_with_response_stream(modelId=CLAUDE, body=json.dumps(body)))
    types = [c["type"] for c in chunks]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(types[2:-3]) == {"content_block_delta"}
    assert chunks[0]["message"]["model"] == "claude-haiku-4-5-20251001"
    assert chunks[0]["message"]["usage"]["input_tokens"] > 0
    assert chunks[-2]["delta"]["stop_reason"] == "end_turn"
    assert (
        chunks[-2]["usage"]["output_tokens"]
        == chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"]
    )

    _, body, *_ = FAMILIES["nova"]
    chunks = read_stream(
        runtime.invoke_model_with_response_stream(modelId="amazon.nova-pro-v1:0", body=json.dumps(body))
    )
    keys = [next(k for k in c if k != "amazon-bedrock-invocationMetrics") for c in chunks]
    assert keys[0] == "messageStart" and keys[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert (
        chunks[-1]["metadata"]["usage"]["outputTokens"]
        == chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"]
    )

    _, body, *_ = FAMILIES["titan-text"]
    chunks = read_stream(
        runtime.invoke_model_with_response_stream(modelId="amazon.titan-text-lite-v1", body=json.dumps(body))
    )
    assert chunks[0]["inputTextTokenCount"] > 0 and chunks[1]["inputTextTokenCount"] is None
    assert chunks[-1]["completionReason"] == "FINISH"
    assert (
        chunks[-1]["totalOutputTextTokenCount"]
        == chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"]
    )

    _, body, *_ = FAMILIES["llama"]
    chunks = read_stream(
        runtime.invoke_model_with_response_stream(
            modelId="meta.llama3-8b-instruct-v1:0", body=json.dumps(body)
        )
    )
    assert chunks[0]["prompt_token_count"] > 0 and chunks[1]["prompt_token_count"] is None
    counts = [c["generation_token_count"] for c in chunks]
    assert counts == sorted(counts) and counts[0] >= 1, "a running total"
    assert counts[-1] == chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"]
    assert chunks[-1]["stop_reason"] == "stop"


def test_claude_2_also_speaks_messages(runtime, emulator):
    emulator.set_lifecycle_date(RETIRED["anthropic-completions"])
    _, body, sync_text, *_ = FAMILIES["anthropic-messages"]
    _, payload = _invoke(runtime, "anthropic.claude-v2:1", body)
    assert payload["type"] == "message" and sync_text(payload)


def test_undated_retired_models_stay_retired(runtime, emulator):
    """Cohere Command and AI21 Jurassic-2 are EOL with no date in the catalog: EOL on any day."""
    emulator.set_lifecycle_date(date(2024, 1, 1))
    for model_id, body in [
        ("cohere.command-text-v14", {"prompt": PROMPT}),
        ("ai21.j2-mid-v1", {"prompt": PROMPT}),
    ]:
        with pytest.raises(runtime.exceptions.ResourceNotFoundException, match="reached the end of its life"):
            _invoke(runtime, model_id, body)


def test_titan_embeddings(runtime):
    _, v1 = _invoke(runtime, "amazon.titan-embed-text-v1", {"inputText": "hello embedded world"})
    assert len(v1["embedding"]) == 1536 and v1["inputTextTokenCount"] == 6  # hello, embedded, world: 2 each

    resp, v2 = _invoke(runtime, "amazon.titan-embed-text-v2:0", {"inputText": "hello embedded world"})
    assert len(v2["embedding"]) == 1024
    assert abs(sum(x * x for x in v2["embedding"]) - 1.0) < 1e-4, "normalized by default"
    assert v2["embeddingsByType"]["float"] == v2["embedding"]
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-input-token-count"] == "6"

    _, small = _invoke(
        runtime,
        "amazon.titan-embed-text-v2:0",
        {
            "inputText": "hello embedded world",
            "dimensions": 256,
            "normalize": False,
            "embeddingTypes": ["float", "binary"],
        },
    )
    assert len(small["embedding"]) == 256
    assert abs(sum(x * x for x in small["embedding"]) - 1.0) > 1e-3
    assert set(small["embeddingsByType"]["binary"]) <= {0, 1}

    _, again = _invoke(runtime, "amazon.titan-embed-text-v2:0", {"inputText": "hello embedded world"})
    assert again["embedding"] == v2["embedding"]


def test_deterministic_per_body(runtime):
    model_id, body, sync_text, *_ = FAMILIES["llama"]
    first = sync_text(_invoke(runtime, model_id, body)[1])
    assert sync_text(_invoke(runtime, model_id, body)[1]) == first
    other_body = _set(body, "prompt", "Something else")
    other = sync_text(_invoke(runtime, model_id, other_body)[1])
    assert other != first


def test_forced_output_length_and_chunking(runtime, emulator):
    model_id, body, sync_text, chunk_text, _ = FAMILIES["mistral"]
    emulator.configure(model=model_id, output_tokens=200, tokens_per_chunk=8)
    _, payload = _invoke(runtime, model_id, body)
    text = sync_text(payload)
    assert count_tokens(text) == 200
    chunks = read_stream(runtime.invoke_model_with_response_stream(modelId=model_id, body=json.dumps(body)))
    words = len(text.split())
    assert len(chunks) == -(-words // 8) + 1  # 8 words a chunk, then the final chunk
    assert len(chunk_text(chunks[0]).split()) == 8
