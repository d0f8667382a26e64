"""The route table is the one list of routes: every route has a handler, and the docs list them all."""

from __future__ import annotations

import re
from pathlib import Path

from bedrock_gateway.edge import routes

DOCS = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def test_every_route_has_exactly_one_handler_and_every_handler_a_route():
    from bedrock_gateway.handlers import api, stream_app

    assert set(api.ENDPOINTS) == {r.name for r in routes.for_door(routes.SYNC)}
    assert set(stream_app.ENDPOINTS) == {r.name for r in routes.for_door(routes.STREAM)}
    assert len({(r.method, r.path) for r in routes.ROUTES}) == len(routes.ROUTES)


def test_the_contract_page_lists_exactly_the_routes():
    listed = set(re.findall(r"^\| `(GET|POST|PUT|DELETE) (/[^`]*)` \|", DOCS.read_text(), re.MULTILINE))
    assert listed == {(r.method, r.path) for r in routes.ROUTES}


def test_matching_tells_a_wrong_method_from_an_unknown_path():
    route, parameters, exists = routes.match("POST", "/v1/targets/arn%3Aaws%3Abedrock/invoke")
    assert route is not None and route.name == "invoke" and parameters == {"target": "arn%3Aaws%3Abedrock"}
    assert routes.match("GET", "/v1/targets/claude/invoke")[::2] == (None, True)
    assert routes.match("GET", "/v1/nowhere")[::2] == (None, False)


ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"


def test_a_route_with_an_arn_parameter_is_also_served_with_the_arn_over_two_segments():
    route, parameters, _ = routes.match("POST", f"/model/{ARN}/converse-stream")
    assert route is not None and route.name == "bedrock_converse_stream"
    assert routes.joined(parameters, "modelId") == ARN
    assert routes.match_resource(f"/v1/targets/{ARN}/invoke") == (
        "/v1/targets/{target}/{targetTail}/invoke",
        {"target": ARN.split("/")[0], "targetTail": "a1b2c3d4e5f6"},
    )
    assert routes.match_resource("/model/haiku/invoke") == ("/model/{modelId}/invoke", {"modelId": "haiku"})
    assert routes.joined({"modelId": "haiku"}, "modelId") == "haiku"
    # Only the parameters that may hold an ARN: a job id never holds a '/'.
    assert [r.paths for r in routes.ROUTES if r.name == "get_job"] == [("/v1/jobs/{jobId}",)]
    assert routes.match_resource("/v1/jobs/a/b") is None
