"""Least-privilege IAM derived from the targets config: exact Bedrock ARNs, no '*' on any Bedrock
action, look-ups only where neither config nor the catalog of record knows whether a target streams,
CountTokens only where and on what the sync function counts with, and scoped data-plane access."""

from __future__ import annotations

import json

import pytest
from bedrock_gateway.core import catalog
from bedrock_gateway.core.targets import load_targets
from infra_helpers import ACCOUNT, REGION, actions_of, resources_for, statements

from infra.bedrock_access import BedrockResources

SYNC, STREAM, WORKER = "SyncApiHandlerRole", "StreamHandlerRole", "WorkerHandlerRole"
DEAD_LETTERS = "DeadLettersHandlerRole"
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET = "anthropic.claude-sonnet-4-6"

PROFILE_ONLY = """
    default_target = "haiku"
    [targets.haiku]
    model = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
"""


def destinations(profile_id: str) -> set[str]:
    """The foundation-model ARNs a region-agnostic stack allows behind a system profile (the catalog's)."""
    model_id = profile_id.split(".", 1)[1]
    return {f"arn:aws:bedrock:{r}::foundation-model/{model_id}" for r in catalog.all_destinations(profile_id)}


MIXED = """
    [targets.team-a]
    model = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
    models = [
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-6",
        "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-sonnet-4-6",
    ]
    guardrail = { id = "gr1abc", version = "1" }

    [targets.eu-haiku]
    model = "eu.anthropic.claude-haiku-4-5-20251001-v1:0"
    streaming = true

    [targets.tuned]
    model = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghij12"

    [targets.embed]
    model = "amazon.titan-embed-text-v2:0"
    streaming = false
"""


@pytest.fixture(scope="module")
def profile_synth(synthesize, write_targets):
    return synthesize(targetsFile=str(write_targets(PROFILE_ONLY)))


@pytest.fixture(scope="module")
def mixed_synth(synthesize, write_targets):
    return synthesize(targetsFile=str(write_targets(MIXED)))


def test_system_inference_profile_yields_exactly_its_profile_and_destination_models(profile_synth):
    expected = {
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{HAIKU}",
        f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}",
        *destinations(f"us.{HAIKU}"),
    }
    assert f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU}" in expected
    for role in (SYNC, STREAM, WORKER):
        assert resources_for(profile_synth, role, "bedrock:InvokeModel", region="us-east-1") == expected, role
    assert (
        resources_for(profile_synth, STREAM, "bedrock:InvokeModelWithResponseStream", region="us-east-1")
        == expected
    )
    # streaming is not stated, but the catalog of record knows the profile's model: no control-plane look-up
    for role in (SYNC, STREAM):
        assert "bedrock:GetFoundationModel" not in actions_of(profile_synth, role), role
    assert "bedrock:GetInferenceProfile" not in actions_of(profile_synth, SYNC)
    assert "bedrock:ApplyGuardrail" not in actions_of(profile_synth, SYNC)


def test_mixed_config_yields_exactly_the_expected_arns(mixed_synth):
    team_a = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
    expected_invoke = {
        team_a,
        f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET}",
        f"arn:aws:bedrock:us-west-2::foundation-model/{SONNET}",
        f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/eu.{HAIKU}",
        f"arn:aws:bedrock:{REGION}::foundation-model/{HAIKU}",
        *destinations(f"eu.{HAIKU}"),
        "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghij12",
        f"arn:aws:bedrock:{REGION}::foundation-model/amazon.titan-embed-text-v2:0",
    }
    for role in (SYNC, STREAM, WORKER):
        assert resources_for(mixed_synth, role, "bedrock:InvokeModel") == expected_invoke, role
        assert resources_for(mixed_synth, role, "bedrock:ApplyGuardrail") == {
            f"arn:aws:bedrock:{REGION}:{ACCOUNT}:guardrail/gr1abc"
        }, role
    for role in (SYNC, STREAM):
        # only team-a leaves streaming open; its model is looked up in the stack's region
        assert resources_for(mixed_synth, role, "bedrock:GetFoundationModel") == {
            f"arn:aws:bedrock:{REGION}::foundation-model/{SONNET}"
        }, role
        assert resources_for(mixed_synth, role, "bedrock:GetInferenceProfile") == {team_a}, role


def test_default_config_grants_each_target_exactly_what_targets_py_derives(default_synth):
    config = default_synth.stack.settings.targets
    expected = {
        arn for t in config.targets.values() for arn in t.iam_invoke_resources(REGION, ACCOUNT, "aws")
    }
    for role in (SYNC, STREAM, WORKER):
        assert resources_for(default_synth, role, "bedrock:InvokeModel") == expected, role


def test_streaming_lookups_skip_targets_that_state_streaming(mixed_synth):
    config = mixed_synth.stack.settings.targets
    stated = [t for t in config.targets.values() if t.streaming is not None]
    assert stated, "the mixed config is expected to state streaming for at least one target"
    looked_up = resources_for(mixed_synth, SYNC, "bedrock:GetFoundationModel")
    for target in stated:
        model_id = target.ref.foundation_model_id
        if model_id:
            assert f"arn:aws:bedrock:{REGION}::foundation-model/{model_id}" not in looked_up, target.name


def test_streaming_lookups_skip_targets_the_catalog_answers(write_targets):
    config = load_targets(
        write_targets(
            """
            [targets.sonnet]
            model = "global.anthropic.claude-sonnet-4-6"
            [targets.embed]
            model = "amazon.titan-embed-text-v2:0"
            [targets.future]
            model = "acme.model-not-in-the-catalog-v1:0"
            [targets.future-eu]
            model = "eu.acme.another-model-v1:0"
            [targets.tuned]
            model = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghij12"
            """
        )
    )
    assert catalog.response_streaming(SONNET) is True
    assert catalog.response_streaming("amazon.titan-embed-text-v2:0") is False
    resources = BedrockResources.for_config(config, "us-east-1", ACCOUNT, "aws")
    # Only base models the catalog lacks are looked up; provisioned throughput hides its model (no look-up).
    assert resources.foundation_model_lookups == (
        "arn:aws:bedrock:us-east-1::foundation-model/acme.model-not-in-the-catalog-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/acme.another-model-v1:0",
    )


def test_the_default_config_needs_no_control_plane_lookups(default_synth):
    # Every default target's model is in the catalog of record: no GetFoundationModel, no GetInferenceProfile.
    for role in (SYNC, STREAM, WORKER):
        bedrock_actions = {a for a in actions_of(default_synth, role) if a.startswith("bedrock:")}
        assert not bedrock_actions & {"bedrock:GetFoundationModel", "bedrock:GetInferenceProfile"}, role


def test_bedrock_resources_for_config_is_pure_and_exact(write_targets):
    resources = BedrockResources.for_config(
        load_targets(write_targets(PROFILE_ONLY)), "us-east-1", ACCOUNT, "aws"
    )
    assert resources.invoke[:2] == (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{HAIKU}",
        f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}",
    )
    assert set(resources.invoke[1:]) == destinations(f"us.{HAIKU}")
    assert resources.guardrails == () and resources.inference_profile_lookups == ()


@pytest.mark.parametrize("fixture", ["default_synth", "profile_synth", "mixed_synth"])
def test_no_wildcard_resource_on_any_bedrock_action(request, fixture):
    synth = request.getfixturevalue(fixture)
    for statement in statements(synth):
        bedrock_actions = [a for a in statement["Action"] if a.startswith("bedrock:") or a == "*"]
        if not bedrock_actions:
            continue
        assert all("*" not in a for a in bedrock_actions), statement
        for resource in statement["Resource"]:
            assert "*" not in json.dumps(resource), (bedrock_actions, resource)


def test_only_xray_uses_a_wildcard_resource(default_synth):
    for statement in statements(default_synth):
        if "*" in statement["Resource"]:
            assert set(statement["Action"]) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, (
                statement
            )


def test_bedrock_actions_per_function(mixed_synth):
    bedrock = lambda role: {a for a in actions_of(mixed_synth, role) if a.startswith("bedrock:")}  # noqa: E731
    lookups = {"bedrock:GetFoundationModel", "bedrock:GetInferenceProfile"}
    assert bedrock(SYNC) == {"bedrock:InvokeModel", "bedrock:CountTokens", "bedrock:ApplyGuardrail", *lookups}
    assert bedrock(STREAM) == {
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
        "bedrock:ApplyGuardrail",
        *lookups,
    }
    assert bedrock(WORKER) == {"bedrock:InvokeModel", "bedrock:ApplyGuardrail"}


def test_count_tokens_is_granted_on_the_model_each_target_counts_with(mixed_synth):
    # CountTokens takes a foundation model, asked in the stack's region (Target.counting_model_id):
    # team-a's first `models` entry, eu-haiku's base model, embed itself; a provisioned throughput
    # hides its model, so its own ARN.
    assert resources_for(mixed_synth, SYNC, "bedrock:CountTokens") == {
        f"arn:aws:bedrock:{REGION}::foundation-model/{SONNET}",
        f"arn:aws:bedrock:{REGION}::foundation-model/{HAIKU}",
        "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghij12",
        f"arn:aws:bedrock:{REGION}::foundation-model/amazon.titan-embed-text-v2:0",
    }
    for role in (STREAM, WORKER):
        assert "bedrock:CountTokens" not in actions_of(mixed_synth, role), role


def test_count_tokens_on_the_default_config_names_exactly_its_base_models(default_synth):
    models = [
        "anthropic.claude-sonnet-4-6",  # claude: global profile
        HAIKU,  # haiku: us profile
        "amazon.nova-pro-v1:0",
        "meta.llama3-3-70b-instruct-v1:0",  # llama: us profile
        "mistral.mistral-large-3-675b-instruct",
        "amazon.titan-embed-text-v2:0",
    ]
    assert resources_for(default_synth, SYNC, "bedrock:CountTokens") == {
        f"arn:aws:bedrock:{REGION}::foundation-model/{model}" for model in models
    }
    assert resources_for(default_synth, SYNC, "bedrock:CountTokens", region="us-west-2") == {
        f"arn:aws:bedrock:us-west-2::foundation-model/{model}" for model in models
    }


@pytest.mark.parametrize("fixture", ["default_synth", "profile_synth", "mixed_synth"])
def test_no_converse_action_is_granted(request, fixture):
    """Converse and ConverseStream are authorized by InvokeModel and InvokeModelWithResponseStream;
    ``bedrock:Converse*`` are not IAM actions, and a policy naming them grants nothing."""
    synth = request.getfixturevalue(fixture)
    for statement in statements(synth):
        assert not [a for a in statement["Action"] if a.lower().startswith("bedrock:converse")], statement


def test_function_roles_have_no_managed_policies(default_synth):
    for name, role in default_synth.resources("AWS::IAM::Role").items():
        if name.startswith((SYNC, STREAM, WORKER, DEAD_LETTERS)):
            assert "ManagedPolicyArns" not in role["Properties"], name


def test_data_plane_access_is_scoped(default_synth):
    synth, stack = default_synth, default_synth.stack
    table = lambda construct: json.dumps({"Fn::GetAtt": [synth.logical_id(construct), "Arn"]}, sort_keys=True)  # noqa: E731
    jobs, queue, dlq = (
        table(stack.jobs_table.table),
        table(stack.jobs.queue),
        table(stack.jobs.dead_letter_queue),
    )
    results = json.dumps(
        {"Fn::Join": ["", [{"Fn::GetAtt": [synth.logical_id(stack.results.bucket), "Arn"]}, "/results/*"]]},
        sort_keys=True,
    )

    assert {a for a in actions_of(synth, SYNC) if a.startswith(("dynamodb:", "sqs:", "s3:"))} == {
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
        "sqs:SendMessage",
        "s3:GetObject",
    }
    for action in ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"):
        assert resources_for(synth, SYNC, action) == {jobs}
    assert resources_for(synth, SYNC, "sqs:SendMessage") == {queue}
    assert resources_for(synth, SYNC, "s3:GetObject") == {results}

    # The job record is the worker's lock and outcome: conditional puts and updates, nothing else.
    assert {a for a in actions_of(synth, WORKER) if a.startswith("dynamodb:")} == {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    }
    for action in ("dynamodb:PutItem", "dynamodb:UpdateItem"):
        assert resources_for(synth, WORKER, action) == {jobs}
    assert resources_for(synth, WORKER, "s3:PutObject") == {results}
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"):
        assert resources_for(synth, WORKER, action) == {queue}, action

    assert {a for a in actions_of(synth, DEAD_LETTERS) if a.startswith(("dynamodb:", "s3:", "bedrock:"))} == {
        "dynamodb:UpdateItem"
    }
    assert resources_for(synth, DEAD_LETTERS, "dynamodb:UpdateItem") == {jobs}
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"):
        assert resources_for(synth, DEAD_LETTERS, action) == {dlq}, action
    assert "sqs:SendMessage" not in actions_of(synth, DEAD_LETTERS)

    assert not {a for a in actions_of(synth, STREAM) if a.startswith(("dynamodb:", "sqs:", "s3:"))}


def test_the_default_config_grants_nothing_on_placeholder_accounts_or_retired_models(default_synth):
    from gateway_cli.check import PLACEHOLDER_ACCOUNTS

    for statement in statements(default_synth):
        for resource in statement["Resource"]:
            text = json.dumps(resource)
            assert not any(account in text for account in PLACEHOLDER_ACCOUNTS), resource
            model_id = (
                text.rsplit("foundation-model/", 1)[-1].rstrip('"') if "foundation-model/" in text else None
            )
            if model_id:
                assert (catalog.lifecycle(model_id, "us-east-1") or {}).get("status") != catalog.EOL, model_id
