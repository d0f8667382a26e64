"""The route table: every HTTP route the gateway serves, in one place.

The sync handler and the stream app register their routes from it, the CDK construct builds API
Gateway's resources and integrations from it, the local stack matches requests with it, and the
OpenAPI document is generated from it. Adding a route here without a handler fails the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SYNC = "sync"  # the Powertools handler behind a Lambda proxy integration
STREAM = "stream"  # the ASGI app behind the Lambda Web Adapter, API Gateway STREAM integration


@dataclass(frozen=True)
class Route:
    """One route. ``path`` uses OpenAPI / API Gateway templates (``/v1/jobs/{jobId}``)."""

    name: str  # the handler function that serves it, and the OpenAPI operation
    method: str
    path: str
    door: str  # SYNC or STREAM
    summary: str
    auth: str = "caller"  # "caller": the API's auth mode applies (IAM, API key, ...)
    streaming: bool = False  # the response is streamed (API Gateway STREAM transfer mode)
    body_schema: str | None = None  # a JSON Schema API Gateway validates the body against ("job")

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(re.findall(r"\{(\w+)\}", self.path))

    @property
    def resolver_path(self) -> str:
        """The path in Powertools' resolver syntax (``<jobId>``)."""
        return re.sub(r"\{(\w+)\}", r"<\1>", self.path)

    def regex(self) -> re.Pattern[str]:
        """Matches a raw (still percent-encoded) request path; one group per path parameter."""
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(f"^{pattern}$")


ROUTES: tuple[Route, ...] = (
    Route("health", "GET", "/v1/health", SYNC, "liveness, no Bedrock call"),
    Route("openapi", "GET", "/v1/openapi.json", SYNC, "this API's OpenAPI document"),
    Route("list_targets", "GET", "/v1/targets", SYNC, "configured targets"),
    Route(
        "invoke",
        "POST",
        "/v1/targets/{target}/invoke",
        SYNC,
        "InvokeModel for a target; the model's response body unchanged",
    ),
    Route(
        "stream",
        "POST",
        "/v1/targets/{target}/stream",
        STREAM,
        "InvokeModelWithResponseStream for a target: SSE (or NDJSON), one event per chunk",
        streaming=True,
    ),
    Route(
        "create_job",
        "POST",
        "/v1/jobs",
        SYNC,
        "enqueue an invocation job (the same jobId twice is one job)",
        body_schema="job",
    ),
    Route("get_job", "GET", "/v1/jobs/{jobId}", SYNC, "a job's status and result"),
    Route("get_job_result", "GET", "/v1/jobs/{jobId}/result", SYNC, "a finished job's result"),
)

#: What the Lambda Web Adapter polls before it forwards requests to the stream app; not an API route.
STREAM_READINESS_PATH = "/_ready"


_PATTERNS = [(route, route.regex()) for route in ROUTES]


def for_door(door: str) -> tuple[Route, ...]:
    return tuple(route for route in ROUTES if route.door == door)


def match(method: str, raw_path: str) -> tuple[Route | None, dict[str, str], bool]:
    """The route for a request: (route or None, raw path parameters, whether the path exists at all).

    The third value tells a wrong method (405) from an unknown path (404).
    """
    path_exists = False
    for route, pattern in _PATTERNS:
        found = pattern.match(raw_path)
        if found:
            path_exists = True
            if route.method == method:
                return route, found.groupdict(), True
    return None, {}, path_exists
