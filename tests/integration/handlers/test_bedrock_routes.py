"""The Bedrock-compatible routes (``/model/{modelId}/...``) with real boto3 pointed at the gateway.

Both doors run behind the local API Gateway stand-in (``gateway_url``); Bedrock is the emulator. The
same calls made straight to the emulator are the reference: what boto3 gets through the gateway must
be what it gets from Bedrock. (Bearer keys over HTTPS, as SDKs send them, are covered against
``make run`` in tests/integration/devstack.)
"""

from __future__ import annotations

import json
from urllib.parse import quote

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import EventStreamError

from tests.integration.conftest import CLAUDE_BODY, CLAUDE_MODEL, key_context
from tests.integration.handlers.test_api import MESSAGES

HAIKU_MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
LEGACY_BODY = {
    "prompt": "\n\nHuman: write an essay for living on mars in 1000 words\n\nAssistant:",
    "max_tokens_to_sample": 4000,
}
CONVERSE = {
    "messages": [{"role": "user", "content": [{"text": "Name three moons of Jupiter."}]}],
    "inferenceConfig": {"maxTokens": 60},
}
NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def gateway(gateway_url, emu):
    """boto3's bedrock-runtime client, pointed at the gateway."""
    return boto3.client("bedrock-runtime", endpoint_url=gateway_url, config=NO_RETRIES)


@pytest.fixture
def bedrock(emu):
    """The same client straight to Bedrock (the emulator): the reference."""
    return boto3.client("bedrock-runtime", config=NO_RETRIES)


def _chunks(response) -> list[bytes]:
    return [event["chunk"]["bytes"] for event in response["body"]]


def _bedrock_headers(response) -> dict[str, str]:
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    return {k: v for k, v in headers.items() if k.startswith("x-amzn-bedrock-") and "latency" not in k}


def test_invoke_model_on_a_target_name_is_bedrocks_answer_byte_for_byte(gateway, bedrock):
    body = json.dumps(MESSAGES)
    through = gateway.invoke_model(modelId="haiku", body=body)
    direct = bedrock.invoke_model(modelId=HAIKU_MODEL, body=body)
    assert through["body"].read() == direct["body"].read()
    assert through["contentType"] == "application/json"
    # Token counts and the rest of Bedrock's headers, as langchain-aws reads them.
    assert _bedrock_headers(through) == _bedrock_headers(direct)
    assert int(_bedrock_headers(through)["x-amzn-bedrock-input-token-count"]) > 0


def test_invoke_model_with_response_stream_forwards_every_chunk_unchanged(gateway, bedrock):
    body = json.dumps(MESSAGES)
    through = _chunks(gateway.invoke_model_with_response_stream(modelId="haiku", body=body))
    direct = _chunks(bedrock.invoke_model_with_response_stream(modelId=HAIKU_MODEL, body=body))
    assert through[:-1] == direct[:-1] and len(through) > 3
    # The closing chunk carries Bedrock's metrics: the same, but for the latencies of each call.
    assert _without_latencies(through[-1]) == _without_latencies(direct[-1])


def _without_latencies(chunk: bytes) -> dict:
    document = json.loads(chunk)
    metrics = document["amazon-bedrock-invocationMetrics"]
    del metrics["invocationLatency"], metrics["firstByteLatency"]
    return document


def test_converse_and_converse_stream_on_a_target_name(gateway, bedrock):
    through = gateway.converse(modelId="haiku", **CONVERSE)
    direct = bedrock.converse(modelId=HAIKU_MODEL, **CONVERSE)
    assert through["output"] == direct["output"]
    assert through["stopReason"] == direct["stopReason"] and through["usage"] == direct["usage"]

    events = list(gateway.converse_stream(modelId="haiku", **CONVERSE)["stream"])
    reference = list(bedrock.converse_stream(modelId=HAIKU_MODEL, **CONVERSE)["stream"])
    assert [next(iter(e)) for e in events] == [next(iter(e)) for e in reference]
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == direct["output"]["message"]["content"][0]["text"]
    assert events[-1]["metadata"]["usage"] == direct["usage"]


def test_count_tokens_asks_the_foundation_model_behind_the_target(gateway, bedrock, emu):
    request = {"input": {"converse": {"messages": CONVERSE["messages"]}}}
    through = gateway.count_tokens(modelId="claude", **request)
    direct = bedrock.count_tokens(modelId="anthropic.claude-sonnet-4-6", **request)
    assert through["inputTokens"] == direct["inputTokens"] > 0
    assert "anthropic.claude-sonnet-4-6" in emu.counters()["models"]


def test_target_options_win_over_the_callers_headers(gateway, emu):
    # team-a sets performance_latency = "standard" and service_tier = "priority"; the caller asks otherwise.
    response = gateway.invoke_model(
        modelId="team-a", body=json.dumps(MESSAGES), performanceConfigLatency="optimized", serviceTier="flex"
    )
    assert response["performanceConfigLatency"] == "standard"
    assert response["serviceTier"] == "priority"
    response = gateway.invoke_model(modelId="haiku", body=json.dumps(MESSAGES), serviceTier="flex")
    assert response["serviceTier"] == "flex"


def test_an_alias_reaches_its_target_and_a_text_completion_body_is_translated(gateway, emu):
    response = gateway.invoke_model(modelId="anthropic.claude-v2", body=json.dumps(LEGACY_BODY))
    answer = json.loads(response["body"].read())
    assert set(answer) == {"completion", "stop_reason", "stop"}
    assert answer["completion"].strip() and answer["stop_reason"] in ("stop_sequence", "max_tokens")
    assert emu.counters()["models"] == {CLAUDE_MODEL: {"calls": 1, "succeeded": 1}}


def test_a_streamed_text_completion_is_translated_chunk_by_chunk(gateway):
    response = gateway.invoke_model_with_response_stream(
        modelId="anthropic.claude-v2", body=json.dumps(LEGACY_BODY)
    )
    chunks = [json.loads(chunk) for chunk in _chunks(response)]
    assert len(chunks) > 3
    for chunk in chunks[:-1]:
        assert set(chunk) == {"completion", "stop_reason", "stop"} and chunk["stop_reason"] is None
    last = chunks[-1]
    assert last["stop_reason"] == "stop_sequence" and last["stop"] == "\n\nHuman:"
    assert last["amazon-bedrock-invocationMetrics"]["outputTokenCount"] > 0
    assert "".join(c["completion"] for c in chunks).strip()


def test_what_the_adapter_cannot_translate_is_a_validation_exception(gateway, emu):
    body = dict(LEGACY_BODY, top_k=5, logit_bias={"1": 2})
    with pytest.raises(gateway.exceptions.ValidationException, match="no Messages equivalent for logit_bias"):
        gateway.invoke_model(modelId="anthropic.claude-v2", body=json.dumps(body))
    without_max_tokens = {"prompt": LEGACY_BODY["prompt"]}
    with pytest.raises(gateway.exceptions.ValidationException, match="max_tokens_to_sample is missing"):
        gateway.invoke_model(modelId="anthropic.claude-v2", body=json.dumps(without_max_tokens))
    assert emu.counters()["calls"] == 0


def test_an_unknown_model_is_a_validation_exception_and_raw_ids_follow_the_config(gateway, emu):
    with pytest.raises(gateway.exceptions.ValidationException):
        gateway.invoke_model(modelId="no-such-target", body=json.dumps(MESSAGES))
    with pytest.raises(gateway.exceptions.AccessDeniedException, match="raw model"):
        gateway.invoke_model(modelId=HAIKU_MODEL, body=json.dumps(MESSAGES))
    assert emu.counters()["calls"] == 0


def test_a_raw_arn_is_sent_url_encoded_and_decoded_once(gateway, emu, replace_config):
    replace_config(allow_raw_model_ids=True)
    arn = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-6"
    assert gateway.count_tokens(modelId=arn, input={"converse": {"messages": CONVERSE["messages"]}})
    response = gateway.invoke_model_with_response_stream(modelId=HAIKU_MODEL, body=json.dumps(MESSAGES))
    assert len(_chunks(response)) > 3


def test_throttling_raises_the_sdks_throttling_exception(gateway, emu):
    emu.configure(model=HAIKU_MODEL, error={"type": "ThrottlingException", "when": "before"})
    with pytest.raises(gateway.exceptions.ThrottlingException):
        gateway.invoke_model(modelId="haiku", body=json.dumps(MESSAGES))
    with pytest.raises(gateway.exceptions.ThrottlingException):
        gateway.converse_stream(modelId="haiku", **CONVERSE)
    # The SDK retries by its own rules: the gateway tried each call once.
    assert emu.counters()["calls"] == 2


@pytest.mark.parametrize("via_gateway", [True, False], ids=["gateway", "bedrock"])
def test_a_mid_stream_error_raises_model_stream_error_exception_in_the_iterator(
    gateway, bedrock, emu, via_gateway
):
    # botocore raises a stream's modeled exceptions as EventStreamError with the member's name as code.
    emu.configure(
        model=HAIKU_MODEL,
        error={"type": "ModelStreamErrorException", "when": "after_chunks", "after_chunks": 2},
    )
    client, model = (gateway, "haiku") if via_gateway else (bedrock, HAIKU_MODEL)
    response = client.invoke_model_with_response_stream(modelId=model, body=json.dumps(MESSAGES))
    seen = []
    with pytest.raises(EventStreamError) as raised:
        for event in response["body"]:
            seen.append(event)
    assert len(seen) == 2
    assert raised.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert (
        raised.value.response["Error"]["Message"]
        == "An error occurred while streaming the response. Retry your request."
    )


def test_account_ids_are_taken_out_of_bedrocks_messages(gateway, emu):
    emu.configure(
        model=HAIKU_MODEL,
        error={
            "type": "AccessDeniedException",
            "when": "before",
            "message": "User arn:aws:sts::123456789012:assumed-role/gw/x is not authorized",
        },
    )
    with pytest.raises(gateway.exceptions.AccessDeniedException) as raised:
        gateway.invoke_model(modelId="haiku", body=json.dumps(MESSAGES))
    assert "123456789012" not in str(raised.value)


def test_errors_before_a_handler_are_bedrocks_shape_too(gateway_url, emu):
    # A method and path no route has: API Gateway answers it itself (the local stand-in as the
    # deployed API's gateway response does), with the message and error type SDKs read.
    for method, path in (("POST", "/model/haiku/no-such-operation"), ("GET", "/model/haiku/converse-stream")):
        response = httpx.request(method, f"{gateway_url}{path}", content=b"{}" if method == "POST" else None)
        assert response.status_code == 404
        assert response.headers["x-amzn-errortype"].startswith("UnknownOperationException")
        assert response.json()["message"] == "no route for this method and path"
        assert response.json()["error"]["code"] == "NotFound"
    assert emu.counters()["calls"] == 0
    response = httpx.post(f"{gateway_url}/model/haiku/invoke", content=b"{not json")
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"].startswith("ValidationException")


def test_a_keys_allowlist_applies_to_aliases(call_api, emu):
    context = key_context("team-b", "haiku")
    path = f"/model/{quote('anthropic.claude-v2', safe='')}/invoke"
    response = call_api("POST", path, LEGACY_BODY, context=context)
    assert response.status == 403
    assert response.headers["x-amzn-errortype"].startswith("AccessDeniedException")
    assert call_api("POST", "/model/haiku/invoke", MESSAGES, context=context).status == 200
    usage = call_api("POST", "/model/haiku/converse", CONVERSE, context=context)
    assert usage.status == 200 and usage.json()["usage"]["inputTokens"] > 0


def test_v1_converse_and_converse_stream(call_api, gateway_url, emu):
    response = call_api("POST", "/v1/targets/haiku/converse", CONVERSE)
    assert response.status == 200
    assert response.json()["output"]["message"]["role"] == "assistant"
    assert int(response.headers["x-bedrock-input-tokens"]) > 0
    assert response.headers["x-target"] == "haiku"

    streamed = httpx.post(f"{gateway_url}/v1/targets/haiku/converse-stream", json=CONVERSE, timeout=30)
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    names = [line[len("event: ") :] for line in streamed.text.splitlines() if line.startswith("event: ")]
    assert names[0] == "messageStart" and "contentBlockDelta" in names
    assert names[-2:] == ["metadata", "done"]

    ndjson = httpx.post(
        f"{gateway_url}/v1/targets/haiku/converse-stream",
        json=CONVERSE,
        headers={"Accept": "application/x-ndjson"},
        timeout=30,
    )
    lines = [json.loads(line) for line in ndjson.text.splitlines()]
    assert lines[-1]["event"] == "done" and lines[-1]["data"]["outputTokenCount"] > 0


def test_reference_claude_body_through_invoke_on_the_default_target(gateway):
    response = gateway.invoke_model(modelId="claude", body=json.dumps(CLAUDE_BODY))
    assert json.loads(response["body"].read())["content"][0]["text"].strip()


@pytest.fixture
def langchain_connection(gateway_url):
    return {
        "region_name": "us-east-1",
        "endpoint_url": gateway_url,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


def test_langchain_aws_through_the_gateway_invoke_stream_and_converse(langchain_connection, emu):
    from langchain_aws import ChatBedrock, ChatBedrockConverse

    # A target name says nothing of its model family: langchain-aws is told the provider.
    chat = ChatBedrock(
        model_id="haiku", provider="anthropic", model_kwargs={"max_tokens": 200}, **langchain_connection
    )
    reply = chat.invoke("Describe Mars in a sentence.")
    assert reply.content and reply.usage_metadata["input_tokens"] > 0
    assert "".join(chunk.content for chunk in chat.stream("Describe Mars in a sentence."))

    # As for an application inference profile, `base_model_id` tells it what the name stands for.
    converse = ChatBedrockConverse(
        model="claude",
        provider="anthropic",
        base_model_id="anthropic.claude-sonnet-4-6",
        max_tokens=200,
        **langchain_connection,
    )
    reply = converse.invoke("Describe Mars in a sentence.")
    assert reply.content and reply.usage_metadata["output_tokens"] > 0
    assert "".join(chunk.text for chunk in converse.stream("Describe Mars in a sentence."))
    assert emu.counters()["operations"] == {
        "InvokeModel": 1,
        "InvokeModelWithResponseStream": 1,
        "Converse": 1,
        "ConverseStream": 1,
    }


APP_PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"


@pytest.mark.parametrize(
    "path",
    [
        "/model/{arn}/invoke",
        "/model/{arn}/invoke-with-response-stream",
        "/model/{arn}/converse",
        "/v1/targets/{arn}/invoke",
        "/v1/targets/{arn}/stream",
    ],
)
def test_an_arn_whose_slash_arrives_as_a_separator_reaches_its_route(gateway_url, emu, replace_config, path):
    """Some SDKs send an ARN's '/' as it is, and API Gateway may decode '%2F' before it matches: the
    route is also served with the ARN over two segments, and the halves are joined again."""
    replace_config(allow_raw_model_ids=True)
    body = CONVERSE if path.endswith("/converse") else MESSAGES
    with httpx.stream("POST", gateway_url + path.format(arn=APP_PROFILE), json=body, timeout=30) as response:
        content = response.read()
    assert response.status_code == 200, content
    assert emu.counters()["calls"] == 1
    if path.startswith("/v1/"):
        assert response.headers["x-model-id"] == APP_PROFILE


def test_count_tokens_counts_the_invoke_body_the_gateway_would_send(gateway, bedrock, emu):
    """The target's defaults fill the body (as for InvokeModel), and a text-completion body is counted as
    the Messages request it becomes: a count for the bytes an invoke of the same body sends."""
    short = {"messages": [{"role": "user", "content": "Name three moons of Jupiter."}]}  # no version, no max
    through = gateway.count_tokens(modelId="claude", input={"invokeModel": {"body": json.dumps(short)}})
    full = dict(short, anthropic_version="bedrock-2023-05-31", max_tokens=1024)
    direct = bedrock.count_tokens(
        modelId="anthropic.claude-sonnet-4-6", input={"invokeModel": {"body": json.dumps(full)}}
    )
    assert through["inputTokens"] == direct["inputTokens"] > 0
    legacy = gateway.count_tokens(
        modelId="anthropic.claude-v2", input={"invokeModel": {"body": json.dumps(LEGACY_BODY)}}
    )
    assert legacy["inputTokens"] > 0
    with pytest.raises(gateway.exceptions.ValidationException, match="max_tokens_to_sample is missing"):
        gateway.count_tokens(
            modelId="anthropic.claude-v2", input={"invokeModel": {"body": json.dumps({"prompt": "x"})}}
        )
