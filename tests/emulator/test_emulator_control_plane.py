"""The ``bedrock`` control plane through a real boto3 client: filters, pagination, every get."""

from __future__ import annotations

import pytest
from emulator_helpers import make_client

ACCOUNT = "123456789012"
APP_PROFILE = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/a1b2c3d4e5f6"
SONNET = "anthropic.claude-sonnet-4-6"
US_REGIONS = ["us-east-1", "us-east-2", "us-west-2"]
FM_ARN = "arn:aws:bedrock:us-east-1::foundation-model"

# Active or Legacy in us-east-1 as of the catalog's date: what ListFoundationModels must show.
REQUIRED_IDS = {
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    SONNET,
    "anthropic.claude-opus-4-6-v1",
    "amazon.nova-2-lite-v1:0",
    "amazon.nova-lite-v1:0",
    "amazon.nova-pro-v1:0",
    "amazon.nova-micro-v1:0",
    "amazon.titan-text-express-v1",
    "meta.llama3-3-70b-instruct-v1:0",
    "meta.llama4-maverick-17b-instruct-v1:0",
    "mistral.mistral-7b-instruct-v0:2",
    "mistral.mistral-large-3-675b-instruct",
    "deepseek.r1-v1:0",
    "openai.gpt-oss-120b-1:0",
    "amazon.titan-embed-text-v2:0",
}
RETIRED_IDS = {
    "anthropic.claude-v2",
    "anthropic.claude-v2:1",
    "anthropic.claude-instant-v1",
    "anthropic.claude-3-haiku-20240307-v1:0",
    "anthropic.claude-sonnet-4-20250514-v1:0",
    "cohere.command-text-v14",
    "cohere.command-r-v1:0",
    "ai21.j2-mid-v1",
    "ai21.j2-ultra-v1",
    "ai21.jamba-1-5-large-v1:0",
}


def _ids(summaries):
    return {m["modelId"] for m in summaries}


def test_list_foundation_models_and_filters(bedrock):
    models = bedrock.list_foundation_models()["modelSummaries"]
    assert REQUIRED_IDS <= _ids(models)
    assert not RETIRED_IDS & _ids(models), "after EOL a model is only in the documentation"
    for m in models:
        assert m["modelArn"] == f"arn:aws:bedrock:us-east-1::foundation-model/{m['modelId']}"
        assert m["modelLifecycle"]["status"] in ("ACTIVE", "LEGACY")
    anthropic = bedrock.list_foundation_models(byProvider="anthropic")["modelSummaries"]
    assert {m["providerName"] for m in anthropic} == {"Anthropic"}
    assert _ids(bedrock.list_foundation_models(byProvider="AI21 Labs")["modelSummaries"]) == set()
    assert _ids(bedrock.list_foundation_models(byOutputModality="EMBEDDING")["modelSummaries"]) == {
        "amazon.titan-embed-text-v1",
        "amazon.titan-embed-text-v2:0",
    }
    fine_tunable = _ids(bedrock.list_foundation_models(byCustomizationType="FINE_TUNING")["modelSummaries"])
    assert "amazon.titan-text-express-v1" in fine_tunable and SONNET not in fine_tunable
    on_demand = _ids(bedrock.list_foundation_models(byInferenceType="ON_DEMAND")["modelSummaries"])
    assert "amazon.nova-pro-v1:0" in on_demand and SONNET not in on_demand
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.list_foundation_models(byOutputModality="SMELL")


def test_get_foundation_model(bedrock):
    details = bedrock.get_foundation_model(modelIdentifier=SONNET)["modelDetails"]
    assert details["responseStreamingSupported"] is True
    assert details["inferenceTypesSupported"] == ["INFERENCE_PROFILE"]
    assert details["providerName"] == "Anthropic" and details["outputModalities"] == ["TEXT"]
    assert details["modelLifecycle"]["status"] == "ACTIVE"
    embed = bedrock.get_foundation_model(modelIdentifier=f"{FM_ARN}/amazon.titan-embed-text-v2:0")
    assert embed["modelDetails"]["responseStreamingSupported"] is False
    nova = bedrock.get_foundation_model(modelIdentifier="amazon.nova-pro-v1:0")["modelDetails"]
    assert nova["inferenceTypesSupported"] == ["ON_DEMAND", "INFERENCE_PROFILE"]
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_foundation_model(modelIdentifier=f"us.{SONNET}")
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_foundation_model(modelIdentifier="anthropic.claude-v2")


def test_inference_profiles_paginate(bedrock):
    first = bedrock.list_inference_profiles()
    assert "nextToken" in first, "the default page is small enough to paginate"
    pages = list(bedrock.get_paginator("list_inference_profiles").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) > 2
    profiles = [p for page in pages for p in page["inferenceProfileSummaries"]]
    ids = [p["inferenceProfileId"] for p in profiles]
    assert len(ids) == len(set(ids))
    assert {
        f"us.{SONNET}",
        f"global.{SONNET}",
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "us.meta.llama3-1-70b-instruct-v1:0",
        "us.amazon.nova-pro-v1:0",
        "a1b2c3d4e5f6",
    } <= set(ids)
    assert not any(i.startswith(("eu.", "jp.", "au.", "apac.")) for i in ids), "not callable from us-east-1"
    assert "us.anthropic.claude-3-haiku-20240307-v1:0" not in ids, "profiles of retired models are gone"

    system = bedrock.list_inference_profiles(typeEquals="SYSTEM_DEFINED", maxResults=100)
    system = system["inferenceProfileSummaries"]
    assert {p["type"] for p in system} == {"SYSTEM_DEFINED"}
    app = bedrock.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"]
    assert {p["inferenceProfileArn"] for p in app} >= {APP_PROFILE}
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.list_inference_profiles(nextToken="garbage")


def test_get_inference_profiles(bedrock, emulator):
    system = bedrock.get_inference_profile(inferenceProfileIdentifier=f"us.{SONNET}")
    assert system["type"] == "SYSTEM_DEFINED" and system["status"] == "ACTIVE"
    assert system["inferenceProfileArn"] == (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{SONNET}"
    )
    assert [m["modelArn"] for m in system["models"]] == [
        f"arn:aws:bedrock:{r}::foundation-model/{SONNET}" for r in US_REGIONS
    ]
    by_arn = bedrock.get_inference_profile(inferenceProfileIdentifier=system["inferenceProfileArn"])
    assert by_arn["inferenceProfileId"] == f"us.{SONNET}"

    app = bedrock.get_inference_profile(inferenceProfileIdentifier=APP_PROFILE)
    assert app["type"] == "APPLICATION" and app["inferenceProfileId"] == "a1b2c3d4e5f6"
    assert app["models"] == [
        {"modelArn": f"arn:aws:bedrock:{r}::foundation-model/{SONNET}"} for r in US_REGIONS
    ]
    nova_app = bedrock.get_inference_profile(inferenceProfileIdentifier="n0v4pr0f1l3x")
    assert len(nova_app["models"]) == 3

    eu = make_client("bedrock", emulator.url, region="eu-west-1")
    profile = eu.get_inference_profile(inferenceProfileIdentifier=f"eu.{SONNET}")
    assert profile["inferenceProfileArn"].startswith("arn:aws:bedrock:eu-west-1:")
    assert len(profile["models"]) == 6

    # Destinations depend on the source Region: a US profile called from us-west-1 also reaches us-west-1.
    west1 = make_client("bedrock", emulator.url, region="us-west-1")
    from_west1 = west1.get_inference_profile(inferenceProfileIdentifier=f"us.{SONNET}")
    assert f"arn:aws:bedrock:us-west-1::foundation-model/{SONNET}" in [
        m["modelArn"] for m in from_west1["models"]
    ]
    gov = make_client("bedrock", emulator.url, region="us-gov-west-1")
    gov_profile = gov.get_inference_profile(
        inferenceProfileIdentifier="us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0"
    )
    assert [m["modelArn"].split(":")[3] for m in gov_profile["models"]] == ["us-gov-west-1"]
    assert len(bedrock.get_inference_profile(inferenceProfileIdentifier=f"global.{SONNET}")["models"]) > 20
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_inference_profile(inferenceProfileIdentifier=f"eu.{SONNET}")


def test_provisioned_throughputs(bedrock):
    pages = list(
        bedrock.get_paginator("list_provisioned_model_throughputs").paginate(PaginationConfig={"PageSize": 2})
    )
    assert len(pages) == 3
    summaries = [s for page in pages for s in page["provisionedModelSummaries"]]
    assert {s["status"] for s in summaries} == {"InService", "Updating", "Creating", "Failed"}
    in_service = bedrock.list_provisioned_model_throughputs(statusEquals="InService")
    names = {s["provisionedModelName"] for s in in_service["provisionedModelSummaries"]}
    assert names == {"nova-pro-pt", "titan-support-ft-pt", "claude-3-haiku-pt"}

    pt = bedrock.get_provisioned_model_throughput(
        provisionedModelId=f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/abcdefghij12"
    )
    assert pt["status"] == "InService" and pt["modelUnits"] == 1
    assert pt["modelArn"] == pt["foundationModelArn"] == f"{FM_ARN}/amazon.nova-pro-v1:0"
    assert pt["desiredModelArn"] == pt["modelArn"]

    custom = bedrock.get_provisioned_model_throughput(provisionedModelId="titan-support-ft-pt")
    assert ":custom-model/" in custom["modelArn"]
    assert custom["foundationModelArn"].endswith("foundation-model/amazon.titan-text-express-v1")
    failed = bedrock.get_provisioned_model_throughput(provisionedModelId="fa1l3dpt0001")
    assert failed["status"] == "Failed" and failed["failureMessage"]
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_provisioned_model_throughput(provisionedModelId="nope")
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.list_provisioned_model_throughputs(statusEquals="Sleeping")


def test_custom_imported_and_deployments(bedrock):
    custom_arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/amazon.titan-text-express-v1/c0ffee123456"
    custom = bedrock.get_custom_model(modelIdentifier=custom_arn)
    assert custom["modelName"] == "titan-support-ft" and custom["modelStatus"] == "Active"
    assert custom["baseModelArn"] == f"{FM_ARN}/amazon.titan-text-express-v1"
    assert bedrock.get_custom_model(modelIdentifier="titan-support-ft")["modelArn"] == custom_arn
    assert [m["modelArn"] for m in bedrock.list_custom_models()["modelSummaries"]] == [custom_arn]

    imported_arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:imported-model/1mp0rt3dl1am"
    imported = bedrock.get_imported_model(modelIdentifier=imported_arn)
    assert imported["modelArchitecture"] == "llama3" and imported["modelName"] == "my-llama3-import"
    assert bedrock.list_imported_models()["modelSummaries"][0]["modelArn"] == imported_arn

    dep_arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model-deployment/d3pl0ym3nt01"
    dep = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=dep_arn)
    assert dep["status"] == "Active" and dep["modelArn"] == custom_arn
    listed = bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
    assert [d["customModelDeploymentArn"] for d in listed] == [dep_arn]
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_imported_model(modelIdentifier="missing")


def test_control_plane_calls_are_counted(bedrock, emulator):
    bedrock.list_foundation_models()
    bedrock.get_foundation_model(modelIdentifier=SONNET)
    assert emulator.counters()["control_plane"] == {"ListFoundationModels": 1, "GetFoundationModel": 1}
    assert emulator.counters()["calls"] == 0
