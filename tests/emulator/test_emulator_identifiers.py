"""Every kind of model identifier resolves; what real Bedrock rejects is rejected the same way."""

from __future__ import annotations

import json

import pytest
from emulator_helpers import make_client, read_stream

ACCOUNT = "123456789012"
MESSAGES_BODY = json.dumps(
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "Hello there"}],
    }
)
NOVA_BODY = json.dumps({"messages": [{"role": "user", "content": [{"text": "Hello there"}]}]})
TITAN_BODY = json.dumps({"inputText": "Hello there"})
LLAMA_BODY = json.dumps({"prompt": "Hello there", "max_gen_len": 100})
HAIKU45 = "anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET46 = "anthropic.claude-sonnet-4-6"
NOVA_PRO = "amazon.nova-pro-v1:0"
RES = f"arn:aws:bedrock:us-east-1:{ACCOUNT}"  # prefix of the account's resource ARNs
FM_ARN = "arn:aws:bedrock:us-east-1::foundation-model"

IDENTIFIERS = [
    # (modelId as configured, body, resolved foundation model ID in the counters)
    (NOVA_PRO, NOVA_BODY, NOVA_PRO),
    (f"{FM_ARN}/{NOVA_PRO}", NOVA_BODY, NOVA_PRO),
    (f"us.{HAIKU45}", MESSAGES_BODY, HAIKU45),
    (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{HAIKU45}", MESSAGES_BODY, HAIKU45),
    (f"global.{SONNET46}", MESSAGES_BODY, SONNET46),
    (f"{RES}:inference-profile/global.{SONNET46}", MESSAGES_BODY, SONNET46),
    ("us.meta.llama3-3-70b-instruct-v1:0", LLAMA_BODY, "meta.llama3-3-70b-instruct-v1:0"),
    (f"us.{NOVA_PRO}", NOVA_BODY, NOVA_PRO),
    (f"{RES}:application-inference-profile/a1b2c3d4e5f6", MESSAGES_BODY, SONNET46),
    (f"{RES}:application-inference-profile/n0v4pr0f1l3x", NOVA_BODY, NOVA_PRO),
    (f"{RES}:provisioned-model/abcdefghij12", NOVA_BODY, NOVA_PRO),
    (f"{RES}:provisioned-model/cu5t0mpt0001", TITAN_BODY, "amazon.titan-text-express-v1"),
    (f"{RES}:provisioned-model/upd4t1ngpt01", LLAMA_BODY, "meta.llama3-1-8b-instruct-v1:0"),
    (f"{RES}:custom-model-deployment/d3pl0ym3nt01", TITAN_BODY, "amazon.titan-text-express-v1"),
    (f"{RES}:imported-model/1mp0rt3dl1am", LLAMA_BODY, f"{RES}:imported-model/1mp0rt3dl1am"),
]


@pytest.mark.parametrize(("model_id", "body", "resolved"), IDENTIFIERS, ids=[i[0] for i in IDENTIFIERS])
def test_identifier_resolves(runtime, emulator, model_id, body, resolved):
    resp = runtime.invoke_model(modelId=model_id, body=body)
    assert json.loads(resp["body"].read())
    chunks = read_stream(runtime.invoke_model_with_response_stream(modelId=model_id, body=body))
    assert "amazon-bedrock-invocationMetrics" in chunks[-1]
    counters = emulator.counters()
    assert counters["models"][model_id] == {"calls": 2, "succeeded": 2}
    assert counters["resolved_models"][resolved] == {"calls": 2, "succeeded": 2}


def _error(runtime, model_id, body, stream=False):
    call = runtime.invoke_model_with_response_stream if stream else runtime.invoke_model
    with pytest.raises(runtime.exceptions.ClientError) as info:
        call(modelId=model_id, body=body)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_unknown_model(runtime):
    assert _error(runtime, "anthropic.claude-v9", MESSAGES_BODY) == (
        "ValidationException",
        "The provided model identifier is invalid.",
    )
    with pytest.raises(runtime.exceptions.ValidationException):
        runtime.invoke_model(modelId="arn:aws:bedrock:us-east-1::foundation-model/nope.nope-v1", body="{}")


def test_on_demand_of_an_inference_profile_only_model(runtime):
    code, message = _error(runtime, SONNET46, MESSAGES_BODY)
    assert code == "ValidationException"
    assert message == (
        "Invocation of model ID anthropic.claude-sonnet-4-6 with on-demand throughput isn\u2019t "
        "supported. Retry your request with the ID or ARN of an inference profile that contains this model."
    )
    code, _ = _error(runtime, f"{FM_ARN}/meta.llama3-1-70b-instruct-v1:0", LLAMA_BODY, stream=True)
    assert code == "ValidationException"


@pytest.mark.parametrize("pt", ["cr3at1ngpt01", "fa1l3dpt0001"])
def test_provisioned_throughput_not_in_service(runtime, pt):
    code, message = _error(runtime, f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/{pt}", LLAMA_BODY)
    assert code == "ValidationException" and "not ready for inference" in message


def test_unknown_account_resources(runtime):
    code, _ = _error(runtime, f"{RES}:provisioned-model/zzzzzzzzzzzz", NOVA_BODY)
    assert code == "ResourceNotFoundException"
    code, _ = _error(runtime, f"{RES}:application-inference-profile/zzzzzzzzzzzz", MESSAGES_BODY)
    assert code == "ResourceNotFoundException"
    code, _ = _error(
        runtime, "arn:aws:bedrock:us-east-1:999999999999:provisioned-model/abcdefghij12", NOVA_BODY
    )
    assert code == "AccessDeniedException"
    code, _ = _error(runtime, f"{RES}:custom-model/amazon.titan-text-express-v1/c0ffee123456", TITAN_BODY)
    assert code == "ValidationException"


def test_region_comes_from_the_signature(emulator):
    west = make_client("bedrock-runtime", emulator.url, region="us-west-2")
    invalid = ("ValidationException", "The provided model identifier is invalid.")
    assert _error(west, f"{FM_ARN}/meta.llama3-8b-instruct-v1:0", LLAMA_BODY) == invalid
    west.invoke_model(
        modelId="arn:aws:bedrock:us-west-2::foundation-model/meta.llama3-8b-instruct-v1:0", body=LLAMA_BODY
    )
    assert _error(west, NOVA_PRO, NOVA_BODY) == invalid, "Nova Pro is not offered in-Region in us-west-2"
    west.invoke_model(modelId=f"us.{HAIKU45}", body=MESSAGES_BODY)

    # Geographic profiles are callable only from their own geography; global ones from anywhere.
    eu = make_client("bedrock-runtime", emulator.url, region="eu-west-1")
    eu.invoke_model(modelId=f"eu.{HAIKU45}", body=MESSAGES_BODY)
    eu.invoke_model(modelId=f"global.{HAIKU45}", body=MESSAGES_BODY)
    assert _error(eu, f"us.{HAIKU45}", MESSAGES_BODY)[0] == "ValidationException"
    assert _error(west, f"eu.{HAIKU45}", MESSAGES_BODY)[0] == "ValidationException"
    tokyo = make_client("bedrock-runtime", emulator.url, region="ap-northeast-3")
    tokyo.invoke_model(modelId=f"jp.{HAIKU45}", body=MESSAGES_BODY)
    assert _error(tokyo, f"au.{HAIKU45}", MESSAGES_BODY)[0] == "ValidationException"


def test_streaming_a_model_that_cannot_stream(runtime):
    for model_id in ("amazon.titan-embed-text-v1", "amazon.titan-embed-text-v2:0"):
        assert _error(runtime, model_id, TITAN_BODY, stream=True) == (
            "ValidationException",
            "The model is unsupported for streaming.",
        )
        runtime.invoke_model(modelId=model_id, body=TITAN_BODY)


def test_body_of_another_family(runtime):
    code, message = _error(runtime, f"us.{HAIKU45}", TITAN_BODY)
    assert code == "ValidationException"
    assert message == (
        "Malformed input request: #: required key [anthropic_version] not found#: required key [max_tokens] "
        "not found#: required key [messages] not found#: extraneous key [inputText] is not permitted, please "
        "reformat your input and try again."
    )
    code, message = _error(runtime, "amazon.titan-text-express-v1", MESSAGES_BODY)
    assert code == "ValidationException" and "extraneous key [anthropic_version] is not permitted" in message
    code, message = _error(runtime, "meta.llama3-8b-instruct-v1:0", NOVA_BODY, stream=True)
    assert code == "ValidationException" and "required key [prompt] not found" in message
    completions = json.dumps({"prompt": "\n\nHuman: Hi\n\nAssistant:", "max_tokens_to_sample": 50})
    code, message = _error(runtime, f"us.{HAIKU45}", completions)
    assert message == (
        '"claude-haiku-4-5-20251001" is not supported on this API. Please use the Messages API instead.'
    )


def test_missing_and_mistyped_fields(runtime):
    no_max = json.dumps({"anthropic_version": "bedrock-2023-05-31", "messages": []})
    code, message = _error(runtime, f"us.{HAIKU45}", no_max)
    assert code == "ValidationException" and "required key [max_tokens] not found" in message
    many = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": "many", "messages": []})
    _, message = _error(runtime, f"us.{HAIKU45}", many)
    assert "#/max_tokens: expected type: Integer, found: String" in message
    _, message = _error(
        runtime,
        "amazon.nova-lite-v1:0",
        json.dumps({"messages": [{"role": "user", "content": "plain string"}]}),
    )
    assert "#/messages/0/content: expected type: JSONArray, found: String" in message


def test_body_not_json(runtime):
    for body in (b"not json at all", b"", b"[1, 2]"):
        code, message = _error(runtime, NOVA_PRO, body)
        assert code == "ValidationException" and message.startswith("Malformed input request")


def test_request_headers_are_validated_and_echoed(runtime):
    resp = runtime.invoke_model(
        modelId=f"{RES}:application-inference-profile/a1b2c3d4e5f6",
        body=MESSAGES_BODY,
        contentType="application/json",
        accept="application/json",
        trace="ENABLED",
        guardrailIdentifier="abc123def456",
        guardrailVersion="1",
        performanceConfigLatency="optimized",
        serviceTier="priority",
    )
    assert resp["performanceConfigLatency"] == "optimized"
    assert resp["serviceTier"] == "priority"
    assert json.loads(resp["body"].read())["amazon-bedrock-guardrailAction"] == "NONE"
    stream = runtime.invoke_model_with_response_stream(
        modelId=NOVA_PRO,
        body=NOVA_BODY,
        performanceConfigLatency="standard",
        serviceTier="flex",
    )
    assert (stream["performanceConfigLatency"], stream["serviceTier"]) == ("standard", "flex")
    read_stream(stream)

    for bad in (
        {"performanceConfigLatency": "fastest"},
        {"serviceTier": "gold"},
        {"trace": "ON"},
        {"guardrailIdentifier": "abc"},
        {"guardrailIdentifier": "Bad_Id", "guardrailVersion": "1"},
        {"guardrailIdentifier": "gr-abc123", "guardrailVersion": "1"},
        {"guardrailVersion": "01", "guardrailIdentifier": "abc"},
        {"contentType": "text/plain"},
    ):
        with pytest.raises(runtime.exceptions.ValidationException):
            runtime.invoke_model(modelId=NOVA_PRO, body=NOVA_BODY, **bad)
