"""Helpers shared by the Powertools-based handlers: request bodies, request ids, JSON errors, metrics."""

from __future__ import annotations

import base64
import json

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from bedrock_gateway.core.errors import GatewayError


def raw_body(event) -> bytes:
    """The request body as bytes, decoding API Gateway's base64 form when flagged."""
    body = event.body
    if body is None:
        return b""
    if event.is_base64_encoded:
        return base64.b64decode(body)
    return body.encode("utf-8")


def request_id(app) -> str | None:
    """API Gateway's request id, else the Lambda request id."""
    event = app.current_event
    rid = event.request_context.request_id if event else None
    if rid:
        return rid
    context = getattr(app, "lambda_context", None)
    return getattr(context, "aws_request_id", None)


def error_response(exc: GatewayError, rid: str | None) -> Response:
    """SPEC's JSON error body with the right status (and ``Retry-After`` when retrying may help)."""
    return Response(
        status_code=exc.status,
        content_type="application/json",
        body=json.dumps(exc.to_dict(rid)),
        headers=exc.headers(),
    )


def record_error(metrics, exc: GatewayError) -> None:
    """Count an error by its code (own metric object so the code does not become a global dimension)."""
    with single_metric(name="Errors", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as metric:
        metric.add_dimension("ErrorCode", str(exc.code))
