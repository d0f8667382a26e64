"""Sync HTTP door: API Gateway REST proxy events -> Powertools resolver -> core.

Serves the route table's ``sync`` routes (:mod:`bedrock_gateway.edge.routes`); every error leaves as
the JSON error body of :mod:`bedrock_gateway.edge.errors`.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from bedrock_gateway import gc_init, observability, settings, snapstart
from bedrock_gateway.core import bedrock, callers, legacy
from bedrock_gateway.core.callers import Caller
from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.prepare import PreparedCall, prepare
from bedrock_gateway.edge import bedrock_wire, routes
from bedrock_gateway.edge.errors import status_of
from bedrock_gateway.handlers.common import error_response, path_value, raw_body, request_id

DOOR = "sync"
logger = observability.logger
metrics = observability.metrics()
tracer = observability.tracer()
app = APIGatewayRestResolver()

# Loaded at init so a bad config fails the cold start with the message, not the first request.
settings.targets()

# A raw ARN as the target (or modelId) contains '/', which API Gateway may hand us decoded; re-encode it
# so it stays one path segment for the router.
_TARGET_ACTION = re.compile(r"^(/v1/targets/|/model/)(.+)(/[a-z-]+)$")


def health(event: APIGatewayProxyEvent, caller: Caller) -> dict:
    return {"status": "ok", "targets": len(settings.targets().targets)}


def openapi(event: APIGatewayProxyEvent, caller: Caller) -> dict:
    from bedrock_gateway.edge.openapi import document

    return document()


def list_targets(event: APIGatewayProxyEvent, caller: Caller) -> dict:
    """The configured targets this caller may use."""
    config = settings.targets()
    targets = config.list(caller.allowed_targets)
    for entry in targets:
        if entry["streaming"] is None:
            entry["streaming"] = bedrock.streaming_supported(config.targets[entry["name"]])
    return {"defaultTarget": config.default_target, "targets": targets}


def invoke(event: APIGatewayProxyEvent, caller: Caller, target: str) -> Response:
    """InvokeModel for a target: the model's answer unchanged, our figures in ``X-Bedrock-*`` headers."""
    call, result = _call(event, caller, path_value(event, "target", target), "invoke")
    return Response(
        status_code=200,
        content_type=result.content_type,
        body=result.body.decode("utf-8", errors="replace"),
        headers=_gateway_headers(call, result),
    )


def converse(event: APIGatewayProxyEvent, caller: Caller, target: str) -> Response:
    """Converse for a target: Bedrock's Converse answer, our figures in ``X-Bedrock-*`` headers."""
    call, result = _call(event, caller, path_value(event, "target", target), "converse")
    return Response(
        status_code=200,
        content_type="application/json",
        body=result.body.decode("utf-8", errors="replace"),
        headers=_gateway_headers(call, result),
    )


def bedrock_invoke(event: APIGatewayProxyEvent, caller: Caller, modelId: str) -> Response:
    return _bedrock_answer(*_call(event, caller, path_value(event, "modelId", modelId), "invoke"))


def bedrock_converse(event: APIGatewayProxyEvent, caller: Caller, modelId: str) -> Response:
    return _bedrock_answer(*_call(event, caller, path_value(event, "modelId", modelId), "converse"))


def bedrock_count_tokens(event: APIGatewayProxyEvent, caller: Caller, modelId: str) -> Response:
    return _bedrock_answer(*_call(event, caller, path_value(event, "modelId", modelId), "count-tokens"))


def _call(
    event: APIGatewayProxyEvent, caller: Caller, name: str, operation: str
) -> tuple[PreparedCall, bedrock.InvokeResult]:
    """One sync call of ``operation`` for the target ``name`` names: checked, prepared, invoked, recorded.

    The Bedrock-compatible routes pass the caller's ``X-Amzn-Bedrock-*`` headers on, and retry nothing:
    the SDK on the other side retries by its own rules, and retrying here too would multiply them.
    """
    config = settings.targets()
    bedrock_wire = event.path.startswith(routes.BEDROCK_PREFIX)
    caller.check_target(name, config)
    call = prepare(config, name, raw_body(event), operation)
    tracer.put_annotation("target", observability.target_dimension(call.target.name, call.target.raw))
    started = time.perf_counter()
    # Leave a second to answer: past the function's timeout the caller gets API Gateway's own error.
    deadline = time.monotonic() + app.lambda_context.get_remaining_time_in_millis() / 1000 - 1.0
    result = bedrock.invoke(
        call.target,
        call.body,
        settings.SYNC_BUDGET,
        attempts=1 if bedrock_wire else settings.SYNC_ATTEMPTS,
        deadline=deadline,
        operation=operation,
        headers=dict(event.headers or {}) if bedrock_wire else None,
    )
    if call.legacy:
        result = replace(result, body=legacy.from_messages(result.body))
    if operation != "count-tokens":
        observability.record_answer(DOOR, call.target, caller, result, started)
    return call, result


def _gateway_headers(call: PreparedCall, result: bedrock.InvokeResult) -> dict[str, str]:
    headers = {"X-Target": call.target.name}
    if result.latency_ms is not None:
        headers["X-Bedrock-Latency-Ms"] = str(result.latency_ms)
    model_id = settings.targets().shown_model_id(call.target)
    if model_id is not None:
        headers["X-Model-Id"] = model_id
    if result.input_tokens is not None:
        headers["X-Bedrock-Input-Tokens"] = str(result.input_tokens)
    if result.output_tokens is not None:
        headers["X-Bedrock-Output-Tokens"] = str(result.output_tokens)
    return headers


def _bedrock_answer(call: PreparedCall, result: bedrock.InvokeResult) -> Response:
    """Bedrock's answer as Bedrock sent it: its body, content type and ``X-Amzn-Bedrock-*`` headers."""
    return Response(
        status_code=200,
        content_type=result.content_type,
        body=result.body.decode("utf-8", errors="replace"),
        headers=bedrock_wire.answer_headers(result.headers),
    )


def _jobs_endpoint(name: str) -> Callable[..., Any]:
    """The jobs route ``name``, imported on its first request: a container that only serves invoke
    calls never loads the job store, result storage and their clients' code."""

    def endpoint(*args: Any, **kwargs: Any) -> Any:
        from bedrock_gateway.handlers import jobs_api

        return getattr(jobs_api, name)(*args, **kwargs)

    endpoint.__name__ = endpoint.__qualname__ = name
    return endpoint


#: The function that serves each sync route of the route table, by route name.
ENDPOINTS: dict[str, Callable[..., Any]] = {
    "health": health,
    "openapi": openapi,
    "list_targets": list_targets,
    "invoke": invoke,
    "converse": converse,
    "bedrock_invoke": bedrock_invoke,
    "bedrock_converse": bedrock_converse,
    "bedrock_count_tokens": bedrock_count_tokens,
    "create_job": _jobs_endpoint("create_job"),
    "get_job": _jobs_endpoint("get_job"),
    "get_job_result": _jobs_endpoint("get_job_result"),
}


def _with_event(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    def serve(**path_parameters: str) -> Any:
        event = app.current_event
        return endpoint(
            event, callers.from_request_context(event.request_context.raw_event), **path_parameters
        )

    return serve


for _route in routes.for_door(routes.SYNC):
    app.route(_route.resolver_path, method=_route.method)(_with_event(ENDPOINTS[_route.name]))


def _error_response(error: GatewayError) -> Response:
    """The error in the shape the route speaks: Bedrock's on ``/model/...``, the gateway's elsewhere."""
    event = app.current_event
    rid = request_id(event, app.lambda_context)
    if event.path.startswith(routes.BEDROCK_PREFIX):
        status, headers, body = bedrock_wire.error_response(error, rid)
        return Response(
            status_code=status, content_type=headers.pop("Content-Type"), body=body.decode(), headers=headers
        )
    return error_response(error, rid)


@app.exception_handler(GatewayError)
def handle_gateway_error(exc: GatewayError) -> Response:
    observability.record_error(DOOR, exc)
    if status_of(exc) >= 500 or exc.detail:
        logger.warning("request failed", extra={"code": str(exc.code), "detail": exc.detail or exc.message})
    return _error_response(exc)


@app.not_found
def handle_not_found(_exc: Exception) -> Response:
    event = app.current_event
    _, _, path_exists = routes.match(event.http_method, event.path)
    error = (
        GatewayError(ErrorCode.METHOD_NOT_ALLOWED, f"{event.http_method} is not allowed on {event.path}")
        if path_exists
        else GatewayError(ErrorCode.NOT_FOUND, f"no route for {event.http_method} {event.path}")
    )
    return _error_response(error)


@app.exception_handler(Exception)
def handle_unexpected(exc: Exception) -> Response:
    logger.exception("unexpected error")
    error = GatewayError(ErrorCode.INTERNAL, "internal error")
    observability.record_error(DOOR, error)
    return _error_response(error)


def _prime_snapshot() -> None:
    """SnapStart, before the snapshot: what a first request of any route would build, without a call."""
    from bedrock_gateway import container
    from bedrock_gateway.core.jobs.contract import parse_job
    from bedrock_gateway.handlers import jobs_api  # noqa: F401 - imported now, not by the first job request

    bedrock.prime_capabilities(settings.targets())
    bedrock.runtime_client(settings.SYNC_BUDGET)
    container.prime(container.job_store, container.result_storage, container.sqs)
    parse_job({"target": "primed", "body": {}})  # compiles the job schema's validator


snapstart.register(prime=_prime_snapshot)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict, context: Any) -> dict:
    """Lambda entry point for API Gateway REST proxy events."""
    path = event.get("path") or ""
    match = _TARGET_ACTION.match(path)
    if match and "/" in match[2]:
        event = dict(event, path=f"{match[1]}{quote(match[2], safe='')}{match[3]}")
    return app.resolve(event, context)


gc_init.init_done()
