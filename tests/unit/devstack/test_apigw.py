"""The local API Gateway stand-in matches resources as the deployed API's route table does."""

from __future__ import annotations

from devstack.apigw import build_event, match_resource

ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"


def test_an_arn_sent_with_its_slash_matches_the_split_resource_with_decoded_halves():
    encoded_head = ARN.split("/")[0].replace(":", "%3A")
    assert match_resource(f"/model/{encoded_head}/a1b2c3d4e5f6/invoke") == (
        "/model/{modelId}/{modelIdTail}/invoke",
        {"modelId": ARN.split("/")[0], "modelIdTail": "a1b2c3d4e5f6"},
    )
    event = build_event("POST", f"/v1/targets/{ARN}/converse", "", [], b"{}")
    assert event["resource"] == "/v1/targets/{target}/{targetTail}/converse"
    assert event["path"] == f"/v1/targets/{ARN}/converse"


def test_an_encoded_arn_matches_the_route_itself():
    encoded = ARN.replace(":", "%3A").replace("/", "%2F")
    assert match_resource(f"/model/{encoded}/invoke") == ("/model/{modelId}/invoke", {"modelId": ARN})
