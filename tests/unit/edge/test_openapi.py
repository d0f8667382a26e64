"""The generated OpenAPI document describes every real route, with the documented error shape."""

from __future__ import annotations

import re

import pytest
from bedrock_gateway.edge import openapi
from bedrock_gateway.edge.routes import ROUTES, STREAM_READINESS_PATH


@pytest.fixture(scope="module")
def document():
    from bedrock_gateway import settings

    config = settings.targets()
    return openapi.build(target_names=list(config.targets), default_target=config.default_target)


def test_every_route_of_both_front_doors_is_described(document):
    from bedrock_gateway.handlers import stream_app
    from bedrock_gateway.handlers.api import app

    expected = {
        (r.method.lower(), re.sub(r"<(\w+)>", r"{\1}", r.path))
        for r in [*app._static_routes, *app._dynamic_routes]
    }
    expected |= {
        (m.lower(), re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", r.path))
        for r in stream_app.starlette_app.routes
        for m in (r.methods or ())
        if m != "HEAD" and r.path != STREAM_READINESS_PATH  # the adapter's readiness check, not a route
    }
    described = {(method, path) for path, item in document["paths"].items() for method in item}
    assert described == expected
    assert ("post", "/v1/targets/{target}/stream") in described
    described_routes = set(openapi._contracts({}))
    assert described_routes == {route.name for route in ROUTES}, (
        "give each route a contract in edge/openapi.py"
    )


def test_errors_use_the_documented_shape_and_retry_after(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            bedrock_wire = path.startswith("/model/")
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    shape = "BedrockError" if bedrock_wire else "Error"
                    assert schema == {"$ref": f"#/components/schemas/{shape}"}, (method, path, status)
                    if bedrock_wire:
                        assert "x-amzn-ErrorType" in response["headers"]
                if status in ("429", "503") and not bedrock_wire:
                    assert response["headers"]["Retry-After"]["required"] is True
    error = document["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["required"] == ["code", "message", "requestId"]
    assert document["components"]["schemas"]["BedrockError"]["required"] == ["message"]


def test_bedrock_routes_need_a_gateway_key_as_a_bearer_token(document):
    for path, item in document["paths"].items():
        for operation in item.values():
            if path.startswith("/model/"):
                assert operation["security"] == [{"gatewayKey": []}], path
            else:
                assert "security" not in operation, path
    assert document["components"]["securitySchemes"]["gatewayKey"]["scheme"] == "bearer"


def test_bodies_come_from_the_real_schemas(document):
    from bedrock_gateway import settings
    from bedrock_gateway.core.jobs.contract import JOB_SCHEMA

    jobs = document["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert jobs == JOB_SCHEMA
    target = document["paths"]["/v1/targets/{target}/invoke"]["post"]["parameters"][0]
    assert set(target["schema"]["anyOf"][0]["enum"]) == set(settings.targets().targets)


def test_schemathesis_loads_it(document):
    schemathesis = pytest.importorskip("schemathesis")

    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(item) for item in document["paths"].values())
