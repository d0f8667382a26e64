"""Model lifecycle as Bedrock enforces it: EOL models answer 404, Legacy ones are served and say so."""

from __future__ import annotations

import json
from datetime import date

import pytest
from bedrock_gateway.core import catalog
from emulator_helpers import CLAUDE, claude_body, make_client, nova_body

EOL_MESSAGE = (
    "This model version has reached the end of its life. "
    "Please refer to the AWS documentation for more details."
)
RES = "arn:aws:bedrock:us-east-1:123456789012"
COMPLETIONS = json.dumps({"prompt": "\n\nHuman: Hello\n\nAssistant:", "max_tokens_to_sample": 50})


def _error(call, **kwargs):
    with pytest.raises(Exception) as info:
        call(**kwargs)
    err = info.value.response["Error"]
    return info.value.response["ResponseMetadata"]["HTTPStatusCode"], err["Code"], err["Message"]


@pytest.mark.parametrize(
    ("model_id", "body"),
    [
        ("anthropic.claude-v2", COMPLETIONS),
        ("anthropic.claude-v2:1", COMPLETIONS),
        ("anthropic.claude-instant-v1", COMPLETIONS),
        ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2", COMPLETIONS),
        ("cohere.command-text-v14", json.dumps({"prompt": "Hello"})),
        ("ai21.j2-mid-v1", json.dumps({"prompt": "Hello"})),
        ("anthropic.claude-3-haiku-20240307-v1:0", claude_body()),
        ("us.anthropic.claude-3-haiku-20240307-v1:0", claude_body()),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", claude_body()),
        (f"{RES}:provisioned-model/r3t1r3dpt001", claude_body()),  # a throughput of a retired model
    ],
)
def test_end_of_life_models_answer_404(runtime, model_id, body):
    assert _error(runtime.invoke_model, modelId=model_id, body=body) == (
        404,
        "ResourceNotFoundException",
        EOL_MESSAGE,
    )
    assert _error(runtime.invoke_model_with_response_stream, modelId=model_id, body=body)[2] == EOL_MESSAGE


def test_end_of_life_in_converse(runtime):
    messages = [{"role": "user", "content": [{"text": "Hello"}]}]
    assert _error(runtime.converse, modelId="anthropic.claude-v2", messages=messages)[:2] == (
        404,
        "ResourceNotFoundException",
    )
    assert (
        _error(runtime.converse_stream, modelId="cohere.command-r-plus-v1:0", messages=messages)[2]
        == EOL_MESSAGE
    )


def test_legacy_models_are_served_and_marked(runtime, bedrock):
    sonnet45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    resp = runtime.invoke_model(modelId=f"us.{sonnet45}", body=claude_body())
    assert json.loads(resp["body"].read())["type"] == "message"
    lifecycle = bedrock.get_foundation_model(modelIdentifier=sonnet45)["modelDetails"]["modelLifecycle"]
    assert lifecycle["status"] == "LEGACY"
    assert lifecycle["legacyTime"].date() == date(2026, 10, 8)
    assert lifecycle["publicExtendedAccessTime"].date() == date(2027, 1, 8)
    assert lifecycle["endOfLifeTime"].date() == date(2027, 4, 8)
    active = bedrock.get_foundation_model(modelIdentifier="anthropic.claude-haiku-5-5")["modelDetails"]
    assert active["modelLifecycle"]["status"] == "ACTIVE"
    assert active["modelLifecycle"]["startOfLifeTime"].date() == date(2026, 10, 7)


def test_lifecycle_follows_the_dates(runtime, emulator, bedrock):
    """The same model, judged on different days: Active, then Legacy, then EOL."""
    model_id = "us.anthropic.claude-3-haiku-20240307-v1:0"
    emulator.set_lifecycle_date(date(2026, 1, 15))
    runtime.invoke_model(modelId=model_id, body=claude_body())
    status = bedrock.get_foundation_model(modelIdentifier="anthropic.claude-3-haiku-20240307-v1:0")
    assert status["modelDetails"]["modelLifecycle"]["status"] == "ACTIVE"
    emulator.set_lifecycle_date(date(2026, 6, 1))
    runtime.invoke_model(modelId=model_id, body=claude_body())
    status = bedrock.get_foundation_model(modelIdentifier="anthropic.claude-3-haiku-20240307-v1:0")
    assert status["modelDetails"]["modelLifecycle"]["status"] == "LEGACY"
    emulator.set_lifecycle_date(date(2026, 9, 10))
    assert _error(runtime.invoke_model, modelId=model_id, body=claude_body())[2] == EOL_MESSAGE


def test_lifecycle_differs_by_region(emulator):
    """Claude 3.5 Sonnet reached EOL in us-east-1 on 2026-03-01 but in ap-northeast-1 only on 2026-07-30."""
    emulator.set_lifecycle_date(date(2026, 5, 1))
    model_id = "anthropic.claude-3-5-sonnet-20240620-v1:0"
    east = make_client("bedrock-runtime", emulator.url)
    tokyo = make_client("bedrock-runtime", emulator.url, region="ap-northeast-1")
    assert _error(east.invoke_model, modelId=model_id, body=claude_body())[2] == EOL_MESSAGE
    tokyo.invoke_model(modelId=model_id, body=claude_body())


def test_catalog_of_record_is_cited_and_consistent():
    """Every model and profile names its source page; every profile points at a catalogued model."""
    for model in catalog.foundation_models():
        assert model["source"].startswith("https://docs.aws.amazon.com/bedrock/")
        assert model["lifecycle"]["source"].startswith("https://docs.aws.amazon.com/bedrock/")
        assert model["lifecycle"]["status"] in ("ACTIVE", "LEGACY", "EOL")
        assert model["converse"]["source"].startswith("https://docs.aws.amazon.com/bedrock/")
    for profile in catalog.system_profiles():
        assert catalog.foundation_model(profile["model"])
        assert profile["source"].startswith("https://docs.aws.amazon.com/bedrock/")
        assert catalog.profile_source_regions(profile["inferenceProfileId"])
    prefixes = set(catalog.geographies())
    assert {"us", "eu", "apac", "jp", "au", "ca", "us-gov", "global"} <= prefixes
    assert catalog.lifecycle("anthropic.claude-v2")["endOfLife"] == "2025-07-21"
    assert catalog.profile_destinations("us.anthropic.claude-sonnet-4-6", "eu-west-1") == []
    assert "us-west-1" in catalog.profile_destinations("us.anthropic.claude-sonnet-4-6", "us-west-1")
    assert "us-west-1" not in catalog.profile_destinations("us.anthropic.claude-sonnet-4-6", "us-east-1")


def test_default_config_recommendations_are_callable(runtime):
    """The model IDs recommended for the default targets: all Active and callable from us-east-1."""
    runtime.invoke_model(modelId=CLAUDE, body=claude_body())
    runtime.invoke_model(modelId="global.anthropic.claude-sonnet-4-6", body=claude_body())
    runtime.invoke_model(modelId="amazon.nova-pro-v1:0", body=nova_body())
    runtime.invoke_model(modelId="us.meta.llama3-3-70b-instruct-v1:0", body=json.dumps({"prompt": "Hi"}))
    runtime.invoke_model(
        modelId="mistral.mistral-large-3-675b-instruct",
        body=json.dumps({"messages": [{"role": "user", "content": "Hi"}]}),
    )
    runtime.invoke_model(modelId="amazon.titan-embed-text-v2:0", body=json.dumps({"inputText": "Hi"}))
    for model_id in (
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "anthropic.claude-sonnet-4-6",
        "amazon.nova-pro-v1:0",
    ):
        assert (
            catalog.lifecycle(model_id, "us-east-1", date.fromisoformat(catalog.as_of()))["status"]
            == "ACTIVE"
        )
