"""Helpers for the Powertools (sync) handler: request bodies, request ids, JSON error responses."""

from __future__ import annotations

import base64
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from bedrock_gateway.core.errors import GatewayError
from bedrock_gateway.edge import routes
from bedrock_gateway.edge.errors import error_body, error_headers, status_of


def raw_body(event: APIGatewayProxyEvent) -> bytes:
    """The request body as bytes, decoding API Gateway's base64 form when flagged."""
    body = event.body
    if body is None:
        return b""
    if event.is_base64_encoded:
        return base64.b64decode(body)
    return body.encode("utf-8")


def path_value(event: APIGatewayProxyEvent, name: str, routed: str) -> str:
    """Path parameter ``name``, decoded exactly once.

    API Gateway hands path parameters over decoded; the router's value is the raw segment, decoded
    here only when API Gateway matched no resource. An ARN whose '/' reached API Gateway as a
    separator comes in two halves (``routes.ARN_PARAMETERS``).
    """
    return routes.joined(event.path_parameters or {}, name) or unquote(routed)


def request_id(event: APIGatewayProxyEvent | None, context) -> str | None:
    """API Gateway's request id, else the Lambda request id (never a header the client sent)."""
    rid = event.request_context.request_id if event else None
    return rid or getattr(context, "aws_request_id", None)


def error_response(error: GatewayError, rid: str | None) -> Response:
    """The JSON error body with its status (and ``Retry-After`` when waiting helps)."""
    return Response(
        status_code=status_of(error),
        content_type="application/json",
        body=error_body(error, rid).decode(),
        headers=error_headers(error),
    )


def public_path(event: APIGatewayProxyEvent, path: str) -> str:
    """``path`` as the client reaches it: behind the default execute-api URL that includes the stage."""
    full, routed = event.request_context.path or "", event.path or ""
    prefix = full[: -len(routed)] if routed and full.endswith(routed) else ""
    return prefix + path
