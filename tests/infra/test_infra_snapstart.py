"""SnapStart (``-c snapStart=true``) and the live aliases every caller invokes: API Gateway's
integrations and permissions, the SQS event source mappings (the worker's, the DLQ consumer's) and the
key authorizer use each function's published version, never $LATEST."""

from __future__ import annotations

import json

import pytest
from bedrock_gateway import snapstart

from infra.components.gateway_function import LIVE_ALIAS


@pytest.fixture(scope="module")
def snap_synth(synthesize):
    return synthesize(snapStart="true", auth="key")


@pytest.fixture(scope="module")
def key_synth(synthesize):
    return synthesize(auth="key")


def functions(synth) -> dict[str, object]:
    stack = synth.stack
    found = {
        "SyncApi": stack.sync_api,
        "Stream": stack.stream,
        "Worker": stack.worker,
        "DeadLetters": stack.dead_letters,
    }
    if stack.key_auth is not None:
        found["Authorizer"] = stack.key_auth
    return found


def ref(synth, construct) -> dict:
    return {"Ref": synth.logical_id(construct)}


@pytest.mark.parametrize("fixture", ["key_synth", "snap_synth"])
def test_every_function_has_a_live_alias_on_the_version_this_deployment_published(request, fixture):
    synth = request.getfixturevalue(fixture)
    aliases = synth.resources("AWS::Lambda::Alias")
    versions = synth.resources("AWS::Lambda::Version")
    assert len(aliases) == len(versions) == len(functions(synth)) == 5
    for name, component in functions(synth).items():
        alias = aliases[synth.logical_id(component.alias)]["Properties"]
        assert alias["Name"] == LIVE_ALIAS, name
        assert alias["FunctionName"] == ref(synth, component.function), name
        version = versions[alias["FunctionVersion"]["Fn::GetAtt"][0]]["Properties"]
        assert version["FunctionName"] == ref(synth, component.function), name


def test_snapstart_is_off_by_default_and_on_for_every_function_when_asked(key_synth, snap_synth):
    for name, component in functions(key_synth).items():
        properties = key_synth.data["Resources"][key_synth.logical_id(component.function)]["Properties"]
        assert "SnapStart" not in properties, name
    for name, component in functions(snap_synth).items():
        properties = snap_synth.data["Resources"][snap_synth.logical_id(component.function)]["Properties"]
        assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}, name


def test_the_web_adapter_calls_the_apps_snapstart_hooks_only_with_snapstart(key_synth, snap_synth):
    def stream_environment(synth) -> dict:
        function = synth.data["Resources"][synth.logical_id(synth.stack.stream.function)]
        return function["Properties"]["Environment"]["Variables"]

    hooks = {
        "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH": snapstart.BEFORE_SNAPSHOT_PATH,
        "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH": snapstart.AFTER_RESTORE_PATH,
    }
    assert hooks.items() <= stream_environment(snap_synth).items()
    assert not hooks.keys() & stream_environment(key_synth).keys()


@pytest.mark.parametrize("fixture", ["default_synth", "snap_synth"])
def test_api_gateway_invokes_the_aliases_and_may_invoke_nothing_else(request, fixture):
    synth = request.getfixturevalue(fixture)
    stack = synth.stack
    allowed = {json.dumps(ref(synth, stack.sync_api.alias)), json.dumps(ref(synth, stack.stream.alias))}
    if stack.key_auth is not None:
        allowed.add(json.dumps(ref(synth, stack.key_auth.alias)))
    methods = synth.resources("AWS::ApiGateway::Method").values()
    for method in methods:
        uri = json.dumps(method["Properties"]["Integration"]["Uri"])
        assert any(alias in uri for alias in allowed), uri
    permissions = [p["Properties"] for p in synth.resources("AWS::Lambda::Permission").values()]
    api_permissions = [p for p in permissions if p["Principal"] == "apigateway.amazonaws.com"]
    assert api_permissions and {json.dumps(p["FunctionName"]) for p in api_permissions} == allowed


def test_the_key_authorizer_is_invoked_through_its_alias(snap_synth):
    authorizer = snap_synth.one("AWS::ApiGateway::Authorizer")["Properties"]
    uri = json.dumps(authorizer["AuthorizerUri"])
    assert json.dumps(ref(snap_synth, snap_synth.stack.key_auth.alias)) in uri


@pytest.mark.parametrize("fixture", ["default_synth", "snap_synth"])
def test_the_event_source_mappings_invoke_the_worker_s_and_the_dlq_consumer_s_aliases(request, fixture):
    synth = request.getfixturevalue(fixture)
    stack = synth.stack
    mappings = {
        json.dumps(m["Properties"]["EventSourceArn"]): m["Properties"]["FunctionName"]
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
    }
    assert len(mappings) == 2
    for queue, component in (
        (stack.jobs.queue, stack.worker),
        (stack.jobs.dead_letter_queue, stack.dead_letters),
    ):
        name = mappings[json.dumps({"Fn::GetAtt": [synth.logical_id(queue), "Arn"]})]
        # "<function name>:live"; CDK takes the name from the function, or with SnapStart from the alias's ARN
        function_name, suffix = name["Fn::Join"][1]
        assert suffix == f":{LIVE_ALIAS}"
        assert function_name in (
            ref(synth, component.function),
            {"Fn::Select": [6, {"Fn::Split": [":", ref(synth, component.alias)]}]},
        )


def test_cdk_has_nothing_to_warn_about_snapstart(snap_synth):
    from aws_cdk.assertions import Annotations, Match

    warnings = Annotations.from_stack(snap_synth.stack).find_warning(
        "*", Match.string_like_regexp("SnapStart")
    )
    assert warnings == []  # each function's version is published and invoked through its alias
