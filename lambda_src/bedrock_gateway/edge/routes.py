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
CALLER_AUTH = "caller"  # the API's auth mode applies (IAM, gateway key, API key, none)
# A gateway key as ``Authorization: Bearer``, whatever the auth mode: what AWS SDKs send when
# AWS_BEARER_TOKEN_BEDROCK is set (they cannot SigV4-sign for API Gateway).
KEY_AUTH = "key"
GATEWAY_WIRE = "gateway"  # the gateway's own JSON shapes (``{"error": {...}}``)
BEDROCK_WIRE = "bedrock"  # Bedrock Runtime's own: what botocore's bedrock-runtime model expects
#: Every path under it speaks Bedrock's wire, unknown ones included (their 404 is Bedrock's too).
BEDROCK_PREFIX = "/model/"
#: Path parameters that may hold a model ARN. Every ARN Bedrock invokes holds one '/'
#: (``...:application-inference-profile/ID``, ``...:provisioned-model/ID``, ``...:foundation-model/ID``,
#: ...). Sent with that '/' as it is (some SDKs do), or as '%2F' that API Gateway may decode before it
#: matches resources, the ARN spans two path segments: so each route with such a parameter is also
#: served with the parameter split over two, ``{modelId}/{modelIdTail}``, and handlers join the halves.
ARN_PARAMETERS = ("target", "modelId")
TAIL = "Tail"


@dataclass(frozen=True)
class Route:
    """One route. ``path`` uses OpenAPI / API Gateway templates (``/v1/jobs/{jobId}``)."""

    name: str  # the handler function that serves it, and the OpenAPI operation
    method: str
    path: str
    door: str  # SYNC or STREAM
    summary: str
    auth: str = CALLER_AUTH  # CALLER_AUTH or KEY_AUTH
    streaming: bool = False  # the response is streamed (API Gateway STREAM transfer mode)
    body_schema: str | None = None  # a JSON Schema API Gateway validates the body against ("job")
    wire: str = GATEWAY_WIRE  # GATEWAY_WIRE or BEDROCK_WIRE: whose request, response and error shapes

    @property
    def bedrock_wire(self) -> bool:
        return self.wire == BEDROCK_WIRE

    @property
    def parameters(self) -> tuple[str, ...]:
        return path_parameters(self.path)

    @property
    def paths(self) -> tuple[str, ...]:
        """Every resource path API Gateway serves the route on: its path, and with an ARN parameter,
        the same path with that parameter over two segments (see :data:`ARN_PARAMETERS`)."""
        for name in ARN_PARAMETERS:
            if f"{{{name}}}" in self.path:
                return (self.path, self.path.replace(f"{{{name}}}", f"{{{name}}}/{{{name}{TAIL}}}"))
        return (self.path,)

    @property
    def resolver_path(self) -> str:
        """The path in Powertools' resolver syntax (``<jobId>``)."""
        return re.sub(r"\{(\w+)\}", r"<\1>", self.path)


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
        "converse",
        "POST",
        "/v1/targets/{target}/converse",
        SYNC,
        "Converse for a target: one request shape across model families",
    ),
    Route(
        "converse_stream",
        "POST",
        "/v1/targets/{target}/converse-stream",
        STREAM,
        "ConverseStream for a target: SSE (or NDJSON), one event per Converse stream event",
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
    # Bedrock Runtime's own routes: AWS SDKs pointed at the gateway call these unchanged.
    *(
        Route(
            name,
            "POST",
            f"/model/{{modelId}}/{operation}",
            door,
            summary,
            auth=KEY_AUTH,
            streaming=door == STREAM,
            wire=BEDROCK_WIRE,
        )
        for name, operation, door, summary in (
            ("bedrock_invoke", "invoke", SYNC, "Bedrock InvokeModel, for AWS SDKs"),
            (
                "bedrock_invoke_stream",
                "invoke-with-response-stream",
                STREAM,
                "Bedrock InvokeModelWithResponseStream, for AWS SDKs (event stream)",
            ),
            ("bedrock_converse", "converse", SYNC, "Bedrock Converse, for AWS SDKs"),
            ("bedrock_converse_stream", "converse-stream", STREAM, "Bedrock ConverseStream, for AWS SDKs"),
            ("bedrock_count_tokens", "count-tokens", SYNC, "Bedrock CountTokens, for AWS SDKs"),
        )
    ),
)

#: A method and path no route has: API Gateway answers it itself, before any authorizer (with
#: ``auth=iam`` the same answer also means an unsigned request). Its error type for AWS SDKs is the
#: one the handlers give an unknown ``/model`` operation.
NO_ROUTE_MESSAGE = "no route for this method and path"
NO_ROUTE_ERROR_TYPE = "UnknownOperationException"
UNSIGNED_MESSAGE = "the request is not signed (SigV4), or no route has this method and path"
#: The 401 of a route that takes a gateway key, whatever was wrong with the key (no oracle).
KEY_REQUIRED_MESSAGE = (
    "no valid gateway key: send 'Authorization: Bearer <gateway key>' "
    "(a missing, malformed, unknown, revoked or expired key is refused alike)"
)

#: What the Lambda Web Adapter polls before it forwards requests to the stream app; not an API route.
STREAM_READINESS_PATH = "/_ready"


def path_parameters(path: str) -> tuple[str, ...]:
    """The parameter names in a path template, in order."""
    return tuple(re.findall(r"\{(\w+)\}", path))


def _path_regex(path: str) -> re.Pattern[str]:
    """Matches a raw (still percent-encoded) request path; one group per path parameter."""
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(f"^{pattern}$")


_PATTERNS = [(route, path, _path_regex(path)) for route in ROUTES for path in route.paths]


def for_door(door: str) -> tuple[Route, ...]:
    return tuple(route for route in ROUTES if route.door == door)


def match(method: str, raw_path: str) -> tuple[Route | None, dict[str, str], bool]:
    """The route for a request: (route or None, raw path parameters, whether the path exists at all).

    The third value tells a wrong method (405) from an unknown path (404).
    """
    path_exists = False
    for route, _, pattern in _PATTERNS:
        found = pattern.match(raw_path)
        if found:
            path_exists = True
            if route.method == method:
                return route, found.groupdict(), True
    return None, {}, path_exists


def match_resource(raw_path: str) -> tuple[str, dict[str, str]] | None:
    """The resource path API Gateway matches for ``raw_path`` and its raw parameters (None: none)."""
    for _, path, pattern in _PATTERNS:
        found = pattern.match(raw_path)
        if found:
            return path, found.groupdict()
    return None


def joined(parameters: dict[str, str], name: str) -> str | None:
    """Parameter ``name``'s value, its two halves joined when the request used the split resource."""
    value = parameters.get(name)
    tail = parameters.get(f"{name}{TAIL}")
    return f"{value}/{tail}" if value and tail else value
