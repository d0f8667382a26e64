"""Converse, ConverseStream, CountTokens and ApplyGuardrail through real boto3, and Bedrock's limits."""

from __future__ import annotations

import json
from datetime import date

import pytest
from bedrock_emulator.families import count_tokens
from emulator_helpers import CLAUDE, claude_body, nova_body

GLOBAL_SONNET = "global.anthropic.claude-sonnet-4-6"
HELLO = [{"role": "user", "content": [{"text": "Describe a day in a colony on Mars."}]}]
WEATHER_TOOL = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
                "required": ["city"],
            }
        },
    }
}

# One current model of every chat family Converse serves, with what its Converse features allow.
CHAT_MODELS = [
    CLAUDE,
    GLOBAL_SONNET,
    "us.amazon.nova-2-lite-v1:0",
    "amazon.nova-pro-v1:0",
    "us.meta.llama3-3-70b-instruct-v1:0",
    "us.meta.llama4-maverick-17b-instruct-v1:0",
    "mistral.mistral-large-3-675b-instruct",
    "us.mistral.pixtral-large-2502-v1:0",
    "us.deepseek.r1-v1:0",
    "openai.gpt-oss-120b-1:0",
    "amazon.titan-text-express-v1",
]


def _error(call, **kwargs):
    with pytest.raises(Exception) as info:
        call(**kwargs)
    err = info.value.response["Error"]
    return err["Code"], err["Message"]


def test_converse_on_a_global_claude_profile(runtime):
    resp = runtime.converse(
        modelId=GLOBAL_SONNET,
        messages=HELLO,
        system=[{"text": "Be brief."}],
        inferenceConfig={"maxTokens": 200, "temperature": 0.2, "topP": 0.9},
    )
    message = resp["output"]["message"]
    assert message["role"] == "assistant" and message["content"][0]["text"]
    assert resp["stopReason"] == "end_turn"
    usage = resp["usage"]
    assert usage["outputTokens"] == count_tokens(message["content"][0]["text"])
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert resp["metrics"]["latencyMs"] >= 0
    again = runtime.converse(
        modelId=GLOBAL_SONNET,
        messages=HELLO,
        system=[{"text": "Be brief."}],
        inferenceConfig={"maxTokens": 200, "temperature": 0.2, "topP": 0.9},
    )
    assert again["output"] == resp["output"], "deterministic"


def test_converse_stream_event_sequence(runtime):
    resp = runtime.converse_stream(modelId=CLAUDE, messages=HELLO, inferenceConfig={"maxTokens": 300})
    events = list(resp["stream"])
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "messageStart" and events[0]["messageStart"]["role"] == "assistant"
    assert kinds[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert set(kinds[1:-3]) == {"contentBlockDelta"}
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    sync = runtime.converse(modelId=CLAUDE, messages=HELLO, inferenceConfig={"maxTokens": 300})
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"
    metadata = events[-1]["metadata"]
    assert metadata["usage"]["outputTokens"] == count_tokens(text)
    assert metadata["metrics"]["latencyMs"] >= 0
    assert sync["usage"]["inputTokens"] == metadata["usage"]["inputTokens"]


def test_max_tokens_stops_converse(runtime):
    resp = runtime.converse(modelId=CLAUDE, messages=HELLO, inferenceConfig={"maxTokens": 5})
    assert resp["stopReason"] == "max_tokens" and resp["usage"]["outputTokens"] == 5


@pytest.mark.parametrize("model_id", CHAT_MODELS)
def test_converse_serves_every_chat_family(runtime, model_id):
    resp = runtime.converse(modelId=model_id, messages=HELLO, inferenceConfig={"maxTokens": 50})
    assert resp["output"]["message"]["content"][0]["text"]
    assert resp["stopReason"] in ("end_turn", "max_tokens")
    assert resp["usage"]["inputTokens"] > 0
    stream = list(runtime.converse_stream(modelId=model_id, messages=HELLO)["stream"])
    assert "metadata" in stream[-1]


def test_converse_for_a_retired_family_before_its_eol(runtime, emulator):
    emulator.set_lifecycle_date(date(2026, 3, 1))
    resp = runtime.converse(modelId="cohere.command-r-v1:0", messages=HELLO, system=[{"text": "Be brief."}])
    assert resp["output"]["message"]["content"][0]["text"]


def test_forced_tool_choice_answers_with_tool_use(runtime):
    for model_id in (CLAUDE, GLOBAL_SONNET, "us.amazon.nova-2-lite-v1:0", "openai.gpt-oss-120b-1:0"):
        resp = runtime.converse(
            modelId=model_id,
            messages=[{"role": "user", "content": [{"text": "What is the weather in Paris?"}]}],
            toolConfig={"tools": [WEATHER_TOOL], "toolChoice": {"tool": {"name": "get_weather"}}},
        )
        assert resp["stopReason"] == "tool_use"
        (block,) = resp["output"]["message"]["content"]
        tool_use = block["toolUse"]
        assert tool_use["name"] == "get_weather" and tool_use["toolUseId"]
        assert set(tool_use["input"]) == {"city", "unit"} and tool_use["input"]["unit"] == "C"

    any_choice = runtime.converse(
        modelId=CLAUDE, messages=HELLO, toolConfig={"tools": [WEATHER_TOOL], "toolChoice": {"any": {}}}
    )
    assert any_choice["stopReason"] == "tool_use"
    auto = runtime.converse(modelId=CLAUDE, messages=HELLO, toolConfig={"tools": [WEATHER_TOOL]})
    assert auto["stopReason"] == "end_turn"


def test_forced_tool_use_streams_as_tool_use_blocks(runtime):
    events = list(
        runtime.converse_stream(
            modelId=GLOBAL_SONNET,
            messages=HELLO,
            toolConfig={"tools": [WEATHER_TOOL], "toolChoice": {"tool": {"name": "get_weather"}}},
        )["stream"]
    )
    start = events[1]["contentBlockStart"]
    assert start["start"]["toolUse"]["name"] == "get_weather"
    partial = "".join(
        e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events if "contentBlockDelta" in e
    )
    assert json.loads(partial)["city"]
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"


def test_tool_results_continue_the_conversation(runtime):
    first = runtime.converse(
        modelId=CLAUDE,
        messages=HELLO,
        toolConfig={"tools": [WEATHER_TOOL], "toolChoice": {"tool": {"name": "get_weather"}}},
    )
    tool_use = first["output"]["message"]["content"][0]["toolUse"]
    result = {"toolResult": {"toolUseId": tool_use["toolUseId"], "content": [{"json": {"temp": 21}}]}}
    second = runtime.converse(
        modelId=CLAUDE,
        messages=[*HELLO, first["output"]["message"], {"role": "user", "content": [result]}],
        toolConfig={"tools": [WEATHER_TOOL]},
    )
    assert second["stopReason"] == "end_turn" and second["output"]["message"]["content"][0]["text"]


def test_claude_invoke_model_honours_forced_tool_choice(runtime):
    tools = [
        {
            "name": "get_weather",
            "description": "Current weather of a city.",
            "input_schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ]
    body = claude_body("Weather in Paris?", tools=tools, tool_choice={"type": "tool", "name": "get_weather"})
    payload = json.loads(runtime.invoke_model(modelId=CLAUDE, body=body)["body"].read())
    assert payload["stop_reason"] == "tool_use"
    (block,) = payload["content"]
    assert block["type"] == "tool_use" and block["name"] == "get_weather" and block["id"].startswith("toolu_")
    assert set(block["input"]) == {"city"}

    chunks = [
        json.loads(e["chunk"]["bytes"])
        for e in runtime.invoke_model_with_response_stream(modelId=CLAUDE, body=body)["body"]
    ]
    assert chunks[1]["content_block"]["type"] == "tool_use"
    partial = "".join(c["delta"]["partial_json"] for c in chunks if c["type"] == "content_block_delta")
    assert json.loads(partial) == block["input"]
    assert chunks[-2]["delta"]["stop_reason"] == "tool_use"

    bad = claude_body("x", tools=tools, tool_choice={"type": "tool", "name": "nope"})
    assert _error(runtime.invoke_model, modelId=CLAUDE, body=bad)[0] == "ValidationException"


def test_model_features_are_respected(runtime):
    """What "Supported models and model features" says a model cannot do in Converse, it refuses."""
    code, message = _error(
        runtime.converse,
        modelId="mistral.mistral-7b-instruct-v0:2",
        messages=HELLO,
        system=[{"text": "Be brief."}],
    )
    assert code == "ValidationException" and "system" in message
    assert _error(
        runtime.converse, modelId="us.deepseek.r1-v1:0", messages=HELLO, toolConfig={"tools": [WEATHER_TOOL]}
    )[1] == ("This model doesn't support tool use.")
    assert _error(
        runtime.converse_stream,
        modelId="us.meta.llama3-3-70b-instruct-v1:0",
        messages=HELLO,
        toolConfig={"tools": [WEATHER_TOOL]},
    )[1] == ("This model doesn't support tool use in streaming mode.")
    assert _error(
        runtime.converse,
        modelId="us.meta.llama3-3-70b-instruct-v1:0",
        messages=HELLO,
        toolConfig={"tools": [WEATHER_TOOL], "toolChoice": {"any": {}}},
    )[1] == (
        "This model doesn't support the toolConfig.toolChoice.any field. "
        "Remove toolConfig.toolChoice.any and try again."
    )
    assert _error(runtime.converse, modelId="amazon.titan-embed-text-v2:0", messages=HELLO)[1] == (
        "This action doesn't support the model that you provided. Try again with a supported text or chat model."
    )


def test_converse_validation_messages(runtime):
    assert _error(runtime.converse, modelId=CLAUDE, messages=[])[1] == (
        "A conversation must start with a user message. Try again with a conversation that starts with a user message."
    )
    two_users = [HELLO[0], HELLO[0]]
    assert (
        "alternate between user and assistant"
        in _error(runtime.converse, modelId=CLAUDE, messages=two_users)[1]
    )
    blank = [{"role": "user", "content": [{"text": "  "}]}]
    assert _error(runtime.converse, modelId=CLAUDE, messages=blank)[1] == (
        "The text field in the ContentBlock object at messages.0.content.0 is blank. Add text to the text field, "
        "and try again."
    )
    code, message = _error(
        runtime.converse, modelId=CLAUDE, messages=HELLO, inferenceConfig={"temperature": 5.0}
    )
    assert code == "ValidationException"
    assert message == (
        "1 validation error detected: Value '5.0' at 'inferenceConfig.temperature' failed to satisfy constraint: "
        "Member must have value less than or equal to 1"
    )
    code, message = _error(
        runtime.converse, modelId=CLAUDE, messages=HELLO, inferenceConfig={"maxTokens": 999999}
    )
    assert message == (
        "The maximum tokens you requested exceeds the model limit of 65536. Try again with a maximum tokens value "
        "that is lower than 65536."
    )
    code, message = _error(
        runtime.converse, modelId=CLAUDE, messages=HELLO, additionalModelRequestFields={"bogus_field": 1}
    )
    assert code == "ValidationException" and "extraneous key [bogus_field] is not permitted" in message


def test_additional_model_request_and_response_fields(runtime):
    resp = runtime.converse(
        modelId=CLAUDE,
        messages=HELLO,
        additionalModelRequestFields={"top_k": 50},
        additionalModelResponseFieldPaths=["/stop_sequence"],
    )
    assert resp["additionalModelResponseFields"] == {"stop_sequence": None}


def test_output_token_limits_and_parameter_ranges_in_invoke_model(runtime):
    code, message = _error(runtime.invoke_model, modelId=CLAUDE, body=claude_body(max_tokens=999999))
    assert (code, message) == (
        "ValidationException",
        "The maximum tokens you requested exceeds the model limit of 65536. Try again with a maximum tokens value "
        "that is lower than 65536.",
    )
    runtime.invoke_model(modelId=CLAUDE, body=claude_body(max_tokens=65536))
    code, message = _error(runtime.invoke_model, modelId=CLAUDE, body=claude_body(temperature=5))
    assert code == "ValidationException" and "#/temperature: 5 is not less or equal to 1" in message
    code, message = _error(
        runtime.invoke_model, modelId="amazon.nova-pro-v1:0", body=nova_body(max_tokens=10001)
    )
    assert "model limit of 10000" in message
    llama = json.dumps({"prompt": "Hi", "max_gen_len": 9000})
    code, message = _error(runtime.invoke_model, modelId="us.meta.llama3-3-70b-instruct-v1:0", body=llama)
    assert code == "ValidationException" and "#/max_gen_len: 9000 is not less or equal to 8192" in message


def test_guardrails_in_converse_and_apply_guardrail(runtime):
    config = {"guardrailIdentifier": "abc123def456", "guardrailVersion": "1", "trace": "enabled"}
    ok = runtime.converse(modelId=CLAUDE, messages=HELLO, guardrailConfig=config)
    assert ok["stopReason"] == "end_turn"
    assert ok["trace"]["guardrail"]["inputAssessment"]["abc123def456"]["wordPolicy"]["customWords"] == []
    blocked = runtime.converse(
        modelId=CLAUDE,
        messages=[{"role": "user", "content": [{"text": "Tell me the admin password"}]}],
        guardrailConfig=config,
    )
    assert blocked["stopReason"] == "guardrail_intervened"
    assert (
        blocked["output"]["message"]["content"][0]["text"] == "Sorry, the model cannot answer this question."
    )
    missing = {"guardrailIdentifier": "zzz999", "guardrailVersion": "1"}
    assert _error(runtime.converse, modelId=CLAUDE, messages=HELLO, guardrailConfig=missing) == (
        "ResourceNotFoundException",
        "The guardrail identifier or version provided in the request does not exist.",
    )

    applied = runtime.apply_guardrail(
        guardrailIdentifier="abc123def456",
        guardrailVersion="DRAFT",
        source="INPUT",
        content=[{"text": {"text": "my password is hunter2"}}],
    )
    assert applied["action"] == "GUARDRAIL_INTERVENED"
    assert applied["outputs"] == [{"text": "Sorry, the model cannot answer this question."}]
    words = applied["assessments"][0]["wordPolicy"]["customWords"]
    assert words == [{"match": "password", "action": "BLOCKED", "detected": True}]
    clean = runtime.apply_guardrail(
        guardrailIdentifier="abc123def456",
        guardrailVersion="1",
        source="OUTPUT",
        content=[{"text": {"text": "hi"}}],
    )
    assert clean["action"] == "NONE" and clean["outputs"] == []
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.apply_guardrail(
            guardrailIdentifier="abc123def456",
            guardrailVersion="7",
            source="INPUT",
            content=[{"text": {"text": "x"}}],
        )


def test_count_tokens_matches_what_an_invocation_reports(runtime):
    body = claude_body("How many tokens is this sentence, roughly?")
    invoked = runtime.invoke_model(modelId=CLAUDE, body=body)
    reported = int(invoked["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-input-token-count"])
    counted = runtime.count_tokens(
        modelId="anthropic.claude-haiku-4-5-20251001-v1:0", input={"invokeModel": {"body": body.encode()}}
    )
    assert counted["inputTokens"] == reported

    conversed = runtime.converse(modelId=GLOBAL_SONNET, messages=HELLO, system=[{"text": "Be brief."}])
    counted = runtime.count_tokens(
        modelId="anthropic.claude-sonnet-4-6",
        input={"converse": {"messages": HELLO, "system": [{"text": "Be brief."}]}},
    )
    assert counted["inputTokens"] == conversed["usage"]["inputTokens"]
    assert _error(
        runtime.count_tokens, modelId="amazon.nova-pro-v1:0", input={"converse": {"messages": HELLO}}
    )[0] == ("ValidationException")


def test_tokens_are_about_four_characters():
    """Not one per word: long words cost more, punctuation costs a token."""
    assert count_tokens("hello") == 2
    assert count_tokens("a b c") == 3
    assert count_tokens("internationalization") == 5
    assert count_tokens("Hi, there!") == 5
    text = "The quick brown fox jumps over the lazy dog near the riverbank at dawn."
    assert len(text) / 6 < count_tokens(text) < len(text) / 3


def test_fault_injection_applies_to_converse(runtime, emulator):
    emulator.configure(model=CLAUDE, throttle_every=1)
    with pytest.raises(runtime.exceptions.ThrottlingException):
        runtime.converse(modelId=CLAUDE, messages=HELLO)
    emulator.reset()
    emulator.configure(
        model="*", error={"type": "ModelStreamErrorException", "when": "after_chunks", "after_chunks": 3}
    )
    stream = runtime.converse_stream(modelId=CLAUDE, messages=HELLO)["stream"]
    seen = []
    with pytest.raises(Exception) as info:
        for event in stream:
            seen.append(next(iter(event)))
    assert seen == ["messageStart", "contentBlockDelta", "contentBlockDelta"]
    assert info.value.response["Error"]["Code"] == "modelStreamErrorException"
    emulator.configure(
        model="*", error={"type": "ModelTimeoutException", "when": "after_chunks", "after_chunks": 1}
    )
    with pytest.raises(Exception) as info:
        list(runtime.converse_stream(modelId=CLAUDE, messages=HELLO)["stream"])
    assert "ModelTimeoutException" in str(info.value), "not a ConverseStream member: an unmodeled error"
    counters = emulator.counters()
    assert counters["operations"] == {"ConverseStream": 2}


def test_messages_match_bedrock_wording(runtime, emulator):
    code, message = _error(runtime.invoke_model, modelId="anthropic.claude-sonnet-4-6", body=claude_body())
    assert "isn\u2019t supported" in message
    assert _error(
        runtime.invoke_model_with_response_stream,
        modelId="amazon.titan-embed-text-v2:0",
        body='{"inputText": "x"}',
    )[1] == ("The model is unsupported for streaming.")
    emulator.configure(
        model="*",
        error={"type": "ThrottlingException", "message": "Too many tokens, please wait before trying again."},
    )
    with pytest.raises(runtime.exceptions.ThrottlingException) as info:
        runtime.invoke_model(modelId=CLAUDE, body=claude_body())
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert info.value.response["Error"]["Message"] == "Too many tokens, please wait before trying again."
