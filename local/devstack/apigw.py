"""API Gateway REST proxy integration, locally: HTTP request -> proxy event -> Lambda response -> HTTP.

Events are built the way API Gateway builds them for a Lambda proxy integration (payload format 1.0):
single- and multi-value headers and query strings, the matched resource template and path
parameters, a request context with a request id, and base64 bodies for non-UTF-8 payloads.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, unquote

from bedrock_gateway.edge import routes

API_GATEWAY_MAX_PAYLOAD = 10 * 1024 * 1024
STAGE = "local"


def match_resource(path: str) -> tuple[str, dict[str, str] | None]:
    """The resource template and path parameters API Gateway would match for ``path`` (the deployed
    API's resources are the route table's paths, so pathParameters look the same locally)."""
    found = routes.match_resource(path)
    if found:
        resource, parameters = found
        return resource, ({k: unquote(v) for k, v in parameters.items()} or None)
    return "/{proxy+}", {"proxy": path.lstrip("/")}


def build_event(
    method: str,
    raw_path: str,
    query_string: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str = "127.0.0.1",
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event for one HTTP request (``authorizer``: the Lambda authorizer's
    context, as API Gateway adds it)."""
    path = raw_path  # REST APIs pass the path still percent-encoded; only pathParameters are decoded
    resource, path_parameters = match_resource(raw_path)
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        # API Gateway keeps the client's header name casing; the last value wins in `headers`.
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query = parse_qsl(query_string, keep_blank_values=True)
    single_query = {k: v for k, v in query} or None
    multi_query: dict[str, list[str]] = {}
    for key, value in query:
        multi_query.setdefault(key, []).append(value)

    is_base64 = False
    text_body: str | None = None
    if body:
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            text_body, is_base64 = base64.b64encode(body).decode(), True

    now = time.time()
    request_id = str(uuid.uuid4())
    event = {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": formatdate(now, usegmt=True),
            # As behind a custom domain: the local URLs carry no stage (the default execute-api URL would).
            "path": path,
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {
                "sourceIp": source_ip,
                "userAgent": single_headers.get("user-agent") or single_headers.get("User-Agent"),
            },
            "domainName": "localhost",
            "apiId": "local",
        },
        "body": text_body,
        "isBase64Encoded": is_base64,
    }
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    return event


#: The deployed gateway responses' x-amzn-ErrorType, by error code (infra/components/gateway_api.py):
#: the Bedrock Runtime exception AWS SDKs raise for them on the /model routes.
SDK_ERROR_TYPES = {
    "InvalidRequest": "ValidationException",
    "PayloadTooLarge": "ValidationException",
    "TooManyRequests": "ThrottlingException",
    "Unauthorized": "AccessDeniedException",
    "AccessDenied": "AccessDeniedException",
    "QuotaExceeded": "ServiceQuotaExceededException",
    "NotFound": routes.NO_ROUTE_ERROR_TYPE,
}


def error_response(status: int, code: str, message: str, request_id: str) -> tuple[int, list, bytes]:
    """A response API Gateway answers itself, as the deployed gateway responses shape it: the gateway's
    JSON error, plus the top-level ``message`` and ``x-amzn-ErrorType`` AWS SDKs read."""
    body = {"error": {"code": code, "message": message, "requestId": request_id}, "message": message}
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    if code in SDK_ERROR_TYPES:
        headers.append(("x-amzn-ErrorType", SDK_ERROR_TYPES[code]))
    if code == "Unauthorized":
        headers.append(("WWW-Authenticate", "Bearer"))  # as the deployed UNAUTHORIZED response sends it
    return status, headers, json.dumps(body).encode()


def response_parts(result: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body bytes from a Lambda proxy response, as API Gateway sends them."""
    status = int(result.get("statusCode", 200))
    headers: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, values in (result.get("multiValueHeaders") or {}).items():
        seen.add(name.lower())
        headers.extend((name, str(v)) for v in values)
    for name, value in (result.get("headers") or {}).items():
        if name.lower() not in seen:
            headers.append((name, str(value)))
    body = result.get("body") or ""
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    return status, headers, payload


@dataclass
class LambdaContext:
    """Enough of the Lambda context object for Powertools and our handlers."""

    function_name: str = "bedrock-gateway-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    timeout_ms: int = 30_000
    aws_request_id: str = ""
    log_group_name: str = "/aws/lambda/bedrock-gateway-local"
    log_stream_name: str = "local"

    def __post_init__(self):
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
