"""Sync HTTP door: API Gateway REST proxy events -> Powertools resolver -> core.

Serves the route table's ``sync`` routes (:mod:`bedrock_gateway.edge.routes`); every error leaves as
the JSON error body of :mod:`bedrock_gateway.edge.errors`.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from bedrock_gateway import observability, settings, snapstart
from bedrock_gateway.core import bedrock, callers
from bedrock_gateway.core.callers import Caller
from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.prepare import prepare_call
from bedrock_gateway.edge import routes
from bedrock_gateway.edge.errors import status_of
from bedrock_gateway.handlers.common import error_response, raw_body, request_id

DOOR = "sync"
logger = observability.logger
metrics = observability.metrics()
tracer = observability.tracer()
app = APIGatewayRestResolver()

# Loaded at init so a bad config fails the cold start with the message, not the first request.
settings.targets()

# A raw ARN as the target contains '/', which API Gateway may hand us decoded; re-encode it so it
# stays one path segment for the router.
_TARGET_ACTION = re.compile(r"^(/v1/targets/)(.+)(/(?:invoke|stream))$")


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
    # Decoded exactly once: API Gateway hands path parameters over decoded (the router's ``target`` is
    # the raw segment, decoded here only when API Gateway matched no {target} resource).
    name = (event.path_parameters or {}).get("target") or unquote(target)
    caller.check_target(name)
    config = settings.targets()
    call = prepare_call(config, name, raw_body(event))
    tracer.put_annotation("target", observability.target_dimension(call.target.name, call.target.raw))
    started = time.perf_counter()
    # Leave a second to answer: past the function's timeout the caller gets API Gateway's own error.
    deadline = time.monotonic() + app.lambda_context.get_remaining_time_in_millis() / 1000 - 1.0
    result = bedrock.invoke(
        call.target, call.body, settings.SYNC_BUDGET, attempts=settings.SYNC_ATTEMPTS, deadline=deadline
    )
    latency_ms = (
        result.latency_ms if result.latency_ms is not None else round((time.perf_counter() - started) * 1000)
    )
    observability.record_invocation(
        DOOR,
        call.target,
        caller,
        latency_ms=latency_ms,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
    )
    headers = {"X-Target": call.target.name, "X-Bedrock-Latency-Ms": str(latency_ms)}
    model_id = config.shown_model_id(call.target)
    if model_id is not None:
        headers["X-Model-Id"] = model_id
    if result.input_tokens is not None:
        headers["X-Bedrock-Input-Tokens"] = str(result.input_tokens)
    if result.output_tokens is not None:
        headers["X-Bedrock-Output-Tokens"] = str(result.output_tokens)
    return Response(
        status_code=200,
        content_type=result.content_type,
        body=result.body.decode("utf-8", errors="replace"),
        headers=headers,
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


@app.exception_handler(GatewayError)
def handle_gateway_error(exc: GatewayError) -> Response:
    observability.record_error(DOOR, exc)
    if status_of(exc) >= 500 or exc.detail:
        logger.warning("request failed", extra={"code": str(exc.code), "detail": exc.detail or exc.message})
    return error_response(exc, request_id(app.current_event, app.lambda_context))


@app.not_found
def handle_not_found(_exc: Exception) -> Response:
    event = app.current_event
    _, _, path_exists = routes.match(event.http_method, event.path)
    error = (
        GatewayError(ErrorCode.METHOD_NOT_ALLOWED, f"{event.http_method} is not allowed on {event.path}")
        if path_exists
        else GatewayError(ErrorCode.NOT_FOUND, f"no route for {event.http_method} {event.path}")
    )
    return error_response(error, request_id(event, app.lambda_context))


@app.exception_handler(Exception)
def handle_unexpected(exc: Exception) -> Response:
    logger.exception("unexpected error")
    error = GatewayError(ErrorCode.INTERNAL, "internal error")
    observability.record_error(DOOR, error)
    return error_response(error, request_id(app.current_event, app.lambda_context))


def _prime_snapshot() -> None:
    """SnapStart, before the snapshot: what a first request of any route would build, without a call."""
    from bedrock_gateway import container
    from bedrock_gateway.core.jobs.contract import parse_job
    from bedrock_gateway.handlers import jobs_api  # noqa: F401 - imported now, not by the first job request

    bedrock.prime_capabilities(settings.targets())
    bedrock.client("bedrock-runtime", settings.SYNC_BUDGET)
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
