"""Sync HTTP API: API Gateway REST proxy events -> Powertools resolver -> core.

Routes: ``POST /v1/targets/{target}/invoke``, ``GET /v1/targets``, ``GET /v1/health``, and the jobs
routes from :mod:`jobs_api`. Every error leaves as SPEC's JSON error body.
"""

from __future__ import annotations

import re
import time
from urllib.parse import quote, unquote

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from bedrock_gateway.core import bedrock
from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.service import prepare_call
from bedrock_gateway.core.targets import load_targets
from bedrock_gateway.handlers.common import error_response, raw_body, record_error, request_id
from bedrock_gateway.handlers.jobs_api import router as jobs_router

logger = Logger(service="bedrock-gateway")
metrics = Metrics(namespace="BedrockGateway", service="bedrock-gateway")
tracer = Tracer(service="bedrock-gateway")
app = APIGatewayRestResolver()
app.include_router(jobs_router)

# Loaded at init so a bad config fails the cold start with the message, not the first request.
CONFIG = load_targets()

# A raw ARN as the target contains '/', which API Gateway may hand us decoded; re-encode it so it
# stays one path segment for the router.
_TARGET_ACTION = re.compile(r"^(/v1/targets/)(.+)(/(?:invoke|stream))$")


@app.get("/v1/health")
def health():
    return {"status": "ok", "targets": len(CONFIG.targets)}


@app.get("/v1/targets")
def list_targets():
    targets = CONFIG.list()
    for entry in targets:
        if entry["streaming"] is None:
            entry["streaming"] = bedrock.streaming_supported(CONFIG.targets[entry["name"]])
    return {"defaultTarget": CONFIG.default_target, "targets": targets}


@app.post("/v1/targets/<target>/invoke")
@tracer.capture_method
def invoke(target: str):
    call = prepare_call(CONFIG, unquote(target), raw_body(app.current_event))
    dimension = "raw-model-id" if call.target.raw else call.target.name
    tracer.put_annotation("target", dimension)
    started = time.perf_counter()
    # Leave a second to answer: past the function's timeout the caller gets API Gateway's own error.
    deadline = time.monotonic() + app.lambda_context.get_remaining_time_in_millis() / 1000 - 1.0
    result = bedrock.invoke(call.target, call.body, purpose="sync", deadline=deadline)
    elapsed_ms = (time.perf_counter() - started) * 1000
    latency_ms = result.latency_ms if result.latency_ms is not None else round(elapsed_ms)

    # Only once there are metrics to publish: Powertools keeps the dimensions of an invocation that
    # published none, and they would leak into the next one.
    metrics.add_dimension("Target", dimension)
    metrics.add_metric("Invocations", MetricUnit.Count, 1)
    metrics.add_metric("LatencyMs", MetricUnit.Milliseconds, latency_ms)
    headers = {
        "X-Target": call.target.name,
        "X-Model-Id": call.target.model_id,
        "X-Bedrock-Latency-Ms": str(latency_ms),
    }
    if result.input_tokens is not None:
        metrics.add_metric("InputTokens", MetricUnit.Count, result.input_tokens)
        headers["X-Bedrock-Input-Tokens"] = str(result.input_tokens)
    if result.output_tokens is not None:
        metrics.add_metric("OutputTokens", MetricUnit.Count, result.output_tokens)
        headers["X-Bedrock-Output-Tokens"] = str(result.output_tokens)
    logger.info(
        "invoked",
        extra={
            "target": call.target.name,
            "model_id": call.target.model_id,
            "latency_ms": latency_ms,
            "input_tokens": result.input_tokens,
            "output_tokens": result.output_tokens,
        },
    )
    return Response(
        status_code=200,
        content_type=result.content_type,
        body=result.body.decode("utf-8", errors="replace"),
        headers=headers,
    )


@app.exception_handler(GatewayError)
def handle_gateway_error(exc: GatewayError):
    record_error(metrics, exc)
    if exc.status >= 500:
        logger.warning("request failed", extra={"code": str(exc.code), "detail": exc.message})
    return error_response(exc, request_id(app))


@app.not_found
def handle_not_found(_exc):
    event = app.current_event
    return error_response(
        GatewayError(ErrorCode.NOT_FOUND, f"no route for {event.http_method} {event.path}"), request_id(app)
    )


@app.exception_handler(Exception)
def handle_unexpected(exc: Exception):
    logger.exception("unexpected error")
    record_error(metrics, GatewayError(ErrorCode.INTERNAL, "internal error"))
    return error_response(GatewayError(ErrorCode.INTERNAL, "internal error"), request_id(app))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event, context):
    """Lambda entry point for API Gateway REST proxy events."""
    path = event.get("path") or ""
    match = _TARGET_ACTION.match(path)
    if match and "/" in match[2]:
        event = dict(event, path=f"{match[1]}{quote(match[2], safe='')}{match[3]}")
    return app.resolve(event, context)
