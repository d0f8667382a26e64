"""The gateway key authorizer against a real (moto) keys table, as API Gateway calls it."""

from __future__ import annotations

import time

import pytest
from bedrock_gateway import container
from bedrock_gateway.core.keys import REVOKED, issue
from bedrock_gateway.handlers import authorizer
from devstack.apigw import LambdaContext

METHOD_ARN = "arn:aws:execute-api:us-east-1:210987654321:a1b2c3/prod/POST/v1/targets/claude/invoke"


def call(token: str) -> dict:
    event = {"type": "TOKEN", "authorizationToken": token, "methodArn": METHOD_ARN}
    return authorizer.handler(event, LambdaContext(function_name="authorizer"))


def test_a_valid_key_is_allowed_on_the_whole_stage_with_its_tenant_targets_and_usage_key(aws):
    secret, record = issue(
        container.key_store(),
        "acme",
        ("claude", "nova"),
        usage_key_for=lambda key_id: ("uk1", "usage-value-1"),
    )
    answer = call(f"Bearer {secret}")
    assert answer["principalId"] == "key:acme"
    assert answer["policyDocument"]["Statement"] == [
        {
            "Action": "execute-api:Invoke",
            "Effect": "Allow",
            "Resource": "arn:aws:execute-api:us-east-1:210987654321:a1b2c3/prod/*/*",
        }
    ]
    assert answer["context"] == {"tenant": "acme", "keyId": record.key_id, "targets": "claude,nova"}
    assert answer["usageIdentifierKey"] == "usage-value-1"
    stored = aws.client("dynamodb").scan(TableName=aws.env["KEYS_TABLE_NAME"])["Items"]
    assert secret not in str(stored)  # only the hash is stored


@pytest.mark.parametrize(
    "token",
    ["", "Bearer", "Basic dXNlcjpwYXNz", "Bearer bgk_short", "Bearer bgk_" + "A" * 43, "bgk_" + "A" * 43],
)
def test_missing_malformed_and_unknown_keys_are_unauthorized(aws, token):
    with pytest.raises(Exception, match="^Unauthorized$"):
        call(token)


def test_revoked_and_expired_keys_are_unauthorized(aws):
    store = container.key_store()
    revoked, record = issue(store, "acme")
    store.set_status(record, REVOKED)
    expired, _ = issue(store, "acme", expires_at=int(time.time()) - 1)
    for secret in (revoked, expired):
        with pytest.raises(Exception, match="^Unauthorized$"):
            call(f"Bearer {secret}")
    later, _ = issue(store, "acme", expires_at=int(time.time()) + 3600)
    assert call(f"bearer {later}")["context"]["tenant"] == "acme"
