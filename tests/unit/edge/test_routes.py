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
