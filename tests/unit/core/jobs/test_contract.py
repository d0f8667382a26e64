"""A job payload's validation errors name the field as the caller wrote it."""

from __future__ import annotations

import pytest
from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.jobs.contract import parse_job


@pytest.mark.parametrize(
    "payload,message",
    [
        ({"target": "claude"}, "invalid job: the request must contain ['body'] properties"),
        ({"target": 1, "body": {}}, "invalid job: target must be string"),
        ({"target": "claude", "body": []}, "invalid job: body must be object"),
        ({"target": "claude", "body": {}, "jobId": "a b"}, "invalid job: jobId must match pattern"),
        ({"target": "claude", "body": {}, "extra": 1}, "invalid job: the request must not contain {'extra'}"),
    ],
)
def test_an_invalid_job_names_the_field_not_the_validators_variable(payload, message):
    with pytest.raises(GatewayError) as raised:
        parse_job(payload)
    assert raised.value.code == ErrorCode.INVALID_REQUEST
    assert raised.value.message.startswith(message) and "data" not in raised.value.message


def test_a_valid_job_keeps_its_id_or_gets_one():
    assert parse_job({"target": "claude", "body": {}, "jobId": "batch:1"}).job_id == "batch:1"
    assert parse_job({"target": "claude", "body": {}}, default_job_id="m-1").job_id == "m-1"
