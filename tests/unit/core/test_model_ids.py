import pytest
from bedrock_gateway.core.model_ids import ModelIdError, ModelKind, looks_like_model_id, parse_model_id

VALID = [
    # (identifier, kind, is_arn, foundation model id it names, region)
    ("anthropic.claude-v2", ModelKind.FOUNDATION_MODEL, False, "anthropic.claude-v2", None),
    (
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        ModelKind.FOUNDATION_MODEL,
        False,
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        None,
    ),
    ("amazon.titan-embed-text-v2:0", ModelKind.FOUNDATION_MODEL, False, "amazon.titan-embed-text-v2:0", None),
    (
        "anthropic.claude-3-haiku-20240307-v1:0:200k",
        ModelKind.FOUNDATION_MODEL,
        False,
        "anthropic.claude-3-haiku-20240307-v1:0:200k",
        None,
    ),
    (
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2",
        ModelKind.FOUNDATION_MODEL,
        True,
        "anthropic.claude-v2",
        "us-east-1",
    ),
    (
        "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
        ModelKind.INFERENCE_PROFILE,
        False,
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        None,
    ),
    (
        "eu.meta.llama3-2-3b-instruct-v1:0",
        ModelKind.INFERENCE_PROFILE,
        False,
        "meta.llama3-2-3b-instruct-v1:0",
        None,
    ),
    ("apac.amazon.nova-pro-v1:0", ModelKind.INFERENCE_PROFILE, False, "amazon.nova-pro-v1:0", None),
    (
        "us-gov.anthropic.claude-3-haiku-20240307-v1:0",
        ModelKind.INFERENCE_PROFILE,
        False,
        "anthropic.claude-3-haiku-20240307-v1:0",
        None,
    ),
    (
        "global.anthropic.claude-sonnet-4-20250514-v1:0",
        ModelKind.INFERENCE_PROFILE,
        False,
        "anthropic.claude-sonnet-4-20250514-v1:0",
        None,
    ),
    (
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0",
        ModelKind.INFERENCE_PROFILE,
        True,
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "us-east-1",
    ),
    (
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
        ModelKind.APPLICATION_INFERENCE_PROFILE,
        True,
        None,
        "us-east-1",
    ),
    (
        "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghij12",
        ModelKind.PROVISIONED_THROUGHPUT,
        True,
        None,
        "us-east-1",
    ),
    (
        "arn:aws:bedrock:us-west-2:123456789012:custom-model-deployment/a1b2c3d4e5f6",
        ModelKind.CUSTOM_MODEL_DEPLOYMENT,
        True,
        None,
        "us-west-2",
    ),
    (
        "arn:aws:bedrock:us-east-1:123456789012:imported-model/abc123def456",
        ModelKind.IMPORTED_MODEL,
        True,
        None,
        "us-east-1",
    ),
    (
        "arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        ModelKind.FOUNDATION_MODEL,
        True,
        "anthropic.claude-3-haiku-20240307-v1:0",
        "us-gov-west-1",
    ),
]


@pytest.mark.parametrize("value,kind,is_arn,model_id,region", VALID)
def test_valid_identifiers(value, kind, is_arn, model_id, region):
    ref = parse_model_id(value)
    assert (ref.kind, ref.is_arn, ref.foundation_model_id, ref.region) == (kind, is_arn, model_id, region)
    assert ref.raw == value
    assert ref.describe()
    assert looks_like_model_id(value)


INVALID = [
    ("", "empty"),
    ("claude", "not a Bedrock model identifier"),
    (" anthropic.claude-v2", "whitespace"),
    ("Anthropic.Claude-V2", "not a Bedrock model identifier"),
    ("arn:aws:s3:::bucket/key", "not a Bedrock ARN"),
    ("arn:aws:bedrock:us-east-1:123456789012:foundation-model/anthropic.claude-v2", "empty account"),
    ("arn:aws:bedrock:us-east-1::provisioned-model/abcdefghij12", "account ID"),
    (
        "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/TOO-LONG-and-bad",
        "malformed provisioned-model",
    ),
    (
        "arn:aws:bedrock:us-east-1:123456789012:custom-model/anthropic.claude-v2/abcdefghij12",
        "cannot be invoked directly",
    ),
    ("arn:aws:bedrock:us-east-1:123456789012:agent/ABCDEFGHIJ", "resource type 'agent'"),
    (
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/anthropic.claude-v2",
        "not a system inference profile",
    ),
    ("arn:aws:bedrock:us-east-1:12345:imported-model/abc123def456", "not a Bedrock ARN"),
    ("x" * 2049, "longer than 2048"),
]


@pytest.mark.parametrize("value,message", INVALID)
def test_invalid_identifiers(value, message):
    with pytest.raises(ModelIdError, match=message):
        parse_model_id(value)
    assert not looks_like_model_id(value)


def test_kind_prints_as_its_config_value():
    assert str(ModelKind.APPLICATION_INFERENCE_PROFILE) == "application-inference-profile"
