"""auth=key: the keys table, the Lambda authorizer on every route, the usage plan per key, and the
worker trusting only the jobs API to name a job's caller."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match
from bedrock_gateway.edge.routes import KEY_REQUIRED_MESSAGE
from infra_helpers import AUTH_CONTEXTS, actions_of, resources_for
from test_infra_template import routes

from infra.components.key_auth import TOKEN_FORMAT


@pytest.fixture(scope="module")
def key_synth(synthesize):
    return synthesize(**AUTH_CONTEXTS["key"])


def test_every_route_needs_a_gateway_key_checked_by_the_authorizer(key_synth):
    authorizer = key_synth.one("AWS::ApiGateway::Authorizer")["Properties"]
    assert authorizer["Type"] == "TOKEN"
    assert authorizer["IdentitySource"] == "method.request.header.Authorization"
    assert authorizer["IdentityValidationExpression"] == TOKEN_FORMAT
    assert authorizer["AuthorizerResultTtlInSeconds"] == 300
    for route, method in routes(key_synth).items():
        assert method["AuthorizationType"] == "CUSTOM", route
        assert method["ApiKeyRequired"] is True, route  # the authorizer names the usage plan key
    key_synth.template.has_resource_properties("AWS::ApiGateway::RestApi", {"ApiKeySourceType": "AUTHORIZER"})


def test_the_usage_plan_limits_each_key(key_synth):
    key_synth.template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {
            "Throttle": {"RateLimit": 5, "BurstLimit": 9},
            "Quota": {"Limit": 1000, "Period": "DAY"},
            "ApiStages": [Match.object_like({"Stage": Match.any_value()})],
        },
    )
    key_synth.template.resource_count_is("AWS::ApiGateway::ApiKey", 0)  # make keys creates them
    outputs = key_synth.data["Outputs"]
    assert "KeysTableName" in outputs and "UsagePlanId" in outputs


def test_the_keys_table_is_encrypted_and_recoverable_and_the_authorizer_only_reads_it(key_synth):
    stack = key_synth.stack
    table = key_synth.resources("AWS::DynamoDB::Table")[key_synth.logical_id(stack.key_auth.keys_table.table)]
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "keyHash", "KeyType": "HASH"}]
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    role = "KeysHandlerRole"
    assert {a for a in actions_of(key_synth, role) if not a.startswith(("logs:", "xray:"))} == {
        "dynamodb:GetItem"
    }
    arn = json.dumps(
        {"Fn::GetAtt": [key_synth.logical_id(stack.key_auth.keys_table.table), "Arn"]}, sort_keys=True
    )
    assert resources_for(key_synth, role, "dynamodb:GetItem") == {arn}


def test_gateway_errors_for_keys_are_json(key_synth):
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in key_synth.resources("AWS::ApiGateway::GatewayResponse").values()
    }
    unauthorized = responses["UNAUTHORIZED"]
    assert '"code":"Unauthorized"' in unauthorized["ResponseTemplates"]["application/json"]
    # It says what to send, not API Gateway's bare "Unauthorized".
    assert json.dumps(KEY_REQUIRED_MESSAGE) in unauthorized["ResponseTemplates"]["application/json"]
    assert unauthorized["ResponseParameters"]["gatewayresponse.header.WWW-Authenticate"] == "'Bearer'"
    assert '"code":"AccessDenied"' in responses["ACCESS_DENIED"]["ResponseTemplates"]["application/json"]


def test_only_the_jobs_api_role_may_name_a_jobs_caller(key_synth):
    """The worker and the DLQ consumer read a message's caller alike: the same one trusted sender."""
    stack = key_synth.stack
    for component in (stack.worker, stack.dead_letters):
        function = key_synth.resources("AWS::Lambda::Function")[key_synth.logical_id(component.function)]
        trusted = function["Properties"]["Environment"]["Variables"]["TRUSTED_JOB_SENDERS"]
        assert json.dumps(trusted).count("RoleId") == 1
        assert key_synth.logical_id(stack.sync_api.gateway_function.role) in json.dumps(trusted)
