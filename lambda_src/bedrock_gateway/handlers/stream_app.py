"""Streaming front door: ``POST /v1/targets/{target}/stream`` as a small ASGI app.

In AWS it runs under uvicorn behind the Lambda Web Adapter in ``response_stream`` mode, with API
Gateway's STREAM integration; locally ``make run`` mounts the same ``app`` object. Each Bedrock
chunk is written as soon as it arrives: one ASGI body message per chunk, no buffering.

Framing: Server-Sent Events by default (``event: chunk`` per Bedrock chunk, then ``event: done``
with the invocation metrics), NDJSON with ``Accept: application/x-ndjson``. Errors before the first
byte are ordinary JSON error responses; after it, an ``error`` event and the end of the stream.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bedrock_gateway import observability, settings
from bedrock_gateway.core import bedrock, callers
from bedrock_gateway.core.callers import Caller
from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.prepare import PreparedCall, check_size, prepare_call
from bedrock_gateway.edge import negotiation, routes
from bedrock_gateway.edge.errors import error_document, error_headers, status_of

DOOR = "stream"
logger = observability.logger
settings.targets()  # a bad config fails the cold start with its message
_STREAMING_UNSUPPORTED = (
    "unsupported for streaming",
    "does not support streaming",
    "streaming is not supported",
)


@dataclass(frozen=True)
class _RequestInfo:
    """Who asked: the request id errors carry, and the keys every log line of the request carries."""

    request_id: str
    log: dict[str, str]
    caller: Caller


def _request_info(request: Request) -> _RequestInfo:
    """API Gateway's request id, as the Lambda Web Adapter passes it (``x-amzn-request-context``),
    else the Lambda request id (``x-amzn-lambda-context``); never a header a client could forge."""
    api = _header_json(request, "x-amzn-request-context")
    function = _header_json(request, "x-amzn-lambda-context")
    api_id, function_id = _printable(api.get("requestId")), _printable(function.get("request_id"))
    request_id = api_id or function_id or str(uuid.uuid4())
    log = {"correlation_id": request_id}
    if function_id:  # the Lambda context, as the sync handler's logs carry it
        log["function_request_id"] = function_id
        log["function_arn"] = _printable(function.get("invoked_function_arn")) or ""
    return _RequestInfo(request_id, log, callers.from_request_context(api))


def _header_json(request: Request, name: str) -> dict[str, Any]:
    try:
        value = json.loads(request.headers.get(name) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _printable(value: Any) -> str | None:
    return value if isinstance(value, str) and value.isprintable() and len(value) <= 256 else None


def _error_response(exc: GatewayError, request_id: str) -> JSONResponse:
    return JSONResponse(
        error_document(exc, request_id), status_code=status_of(exc), headers=error_headers(exc)
    )


class _Framing:
    """How events are written: SSE or NDJSON. Chunk payloads are spliced in byte for byte."""

    def __init__(self, ndjson: bool):
        self.ndjson = ndjson
        self.media_type = negotiation.NDJSON if ndjson else negotiation.SSE

    def event(self, name: str, data: bytes) -> bytes:
        if self.ndjson:
            if b"\n" in data:  # keep one object per line
                data = json.dumps(json.loads(data), separators=(",", ":")).encode()
            return b'{"event":"' + name.encode() + b'","data":' + data + b"}\n"
        lines = data.split(b"\n")
        return (
            b"event: " + name.encode() + b"\n" + b"".join(b"data: " + line + b"\n" for line in lines) + b"\n"
        )


async def stream_endpoint(request: Request) -> Response:
    """Open the Bedrock stream, wait for its first chunk, then forward chunk by chunk."""
    info = _request_info(request)
    try:
        framing = _Framing(negotiation.choose(request.headers.get("accept")) == negotiation.NDJSON)
        body = await _read_body(request, settings.targets().max_body_bytes)
        target = request.path_params["target"]
        info.caller.check_target(target)
        call = prepare_call(settings.targets(), target, body)
        opened = await anyio.to_thread.run_sync(_open, call)
    except GatewayError as exc:
        _record_error(exc, info, before_first_byte=True)
        return _error_response(exc, info.request_id)
    except Exception:
        logger.exception("unexpected error opening stream", extra=info.log)
        error = GatewayError(ErrorCode.INTERNAL, "internal error")
        _record_error(error, info, before_first_byte=True)
        return _error_response(error, info.request_id)

    headers = {
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
        "X-Target": call.target.name,
        "X-Stream-Mode": opened.mode,
        "x-amzn-RequestId": info.request_id,
    }
    model_id = settings.targets().shown_model_id(call.target)
    if model_id is not None:
        headers["X-Model-Id"] = model_id
    return StreamingResponse(
        _forward(call, opened, framing, info),
        media_type=framing.media_type,
        headers=headers,
    )


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with a 413 as soon as it is known to be over ``limit``: from its
    ``Content-Length`` before reading anything, else as it arrives (never read to the end)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        check_size(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            check_size(size, limit, at_least=True)
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass
class _Opened:
    """A stream ready to forward: its first chunk is in hand, so no early error can surprise us."""

    first: bytes
    mode: str  # "stream", or "invoke-fallback" for targets that cannot stream
    summary: bedrock.StreamMetrics
    stream: bedrock.ChunkStream | None = None  # None in fallback mode: `first` was the whole answer
    rest: Iterator[bytes] = field(default_factory=lambda: iter(()))


def _open(call: PreparedCall) -> _Opened:
    """Blocking part of opening: get the first chunk (or the whole fallback answer).

    Waiting for the first chunk before answering lets an early Bedrock error (throttling, a bad
    body) still be a normal HTTP error, at no cost: there is nothing to send before it.
    """
    if bedrock.streaming_supported(call.target) is False:
        return _fallback(call)
    try:
        stream = bedrock.open_stream(
            call.target, call.body, settings.STREAM_BUDGET, attempts=settings.STREAM_OPEN_ATTEMPTS
        )
    except GatewayError as exc:
        if exc.code is ErrorCode.VALIDATION and any(s in exc.message.lower() for s in _STREAMING_UNSUPPORTED):
            return _fallback(call)
        raise
    chunks = iter(stream)
    try:
        first = next(chunks, b"")
    except BaseException:
        stream.close()
        raise
    return _Opened(first, "stream", stream.metrics, stream, chunks)


def _fallback(call: PreparedCall) -> _Opened:
    """One InvokeModel call whose whole body is sent as a single chunk."""
    started = time.perf_counter()
    result = bedrock.invoke(
        call.target, call.body, settings.STREAM_BUDGET, attempts=settings.STREAM_OPEN_ATTEMPTS
    )
    metrics = bedrock.StreamMetrics(
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        invocation_latency_ms=result.latency_ms,
        first_byte_latency_ms=result.latency_ms,
        chunks=1,
        time_to_first_chunk_ms=(time.perf_counter() - started) * 1000,
    )
    metrics.total_ms = metrics.time_to_first_chunk_ms
    return _Opened(result.body, "invoke-fallback", metrics)


def _next_chunk(chunks: Iterator[bytes]) -> bytes | None:
    return next(chunks, None)


async def _forward(
    call: PreparedCall, opened: _Opened, framing: _Framing, info: _RequestInfo
) -> AsyncIterator[bytes]:
    finished = False
    try:
        if opened.first:
            yield framing.event("chunk", opened.first)
        while (chunk := await anyio.to_thread.run_sync(_next_chunk, opened.rest)) is not None:
            yield framing.event("chunk", chunk)
        summary = opened.summary
        done = dict(
            summary.to_dict(), target=call.target.name, modelId=settings.targets().shown_model_id(call.target)
        )
        observability.record_invocation(
            DOOR,
            call.target,
            info.caller,
            latency_ms=summary.invocation_latency_ms
            if summary.invocation_latency_ms is not None
            else summary.total_ms,
            input_tokens=summary.input_tokens,
            output_tokens=summary.output_tokens,
            time_to_first_token_ms=summary.time_to_first_chunk_ms,
        )
        finished = True
        yield framing.event("done", json.dumps(done, separators=(",", ":")).encode())
    except GatewayError as exc:
        finished = True
        _record_error(exc, info, before_first_byte=False)
        yield framing.event(
            "error", json.dumps(error_document(exc, info.request_id), separators=(",", ":")).encode()
        )
    except Exception:
        finished = True
        logger.exception("unexpected error mid-stream", extra=info.log)
        error = GatewayError(ErrorCode.INTERNAL, "internal error")
        _record_error(error, info, before_first_byte=False)
        yield framing.event(
            "error", json.dumps(error_document(error, info.request_id), separators=(",", ":")).encode()
        )
    finally:
        # Also runs when the client disconnects (the generator is closed): stop reading from Bedrock.
        if opened.stream is not None:
            opened.stream.close()
        if not finished:
            observability.record_count(DOOR, "ClientDisconnects")
            logger.info("client disconnected mid-stream", extra=info.log)


def _record_error(exc: GatewayError, info: _RequestInfo, *, before_first_byte: bool) -> None:
    observability.record_error(DOOR, exc)
    log = logger.warning if status_of(exc) >= 500 or not before_first_byte else logger.info
    log(
        "stream failed",
        extra={
            **info.log,
            "code": str(exc.code),
            "detail": exc.message,
            "before_first_byte": before_first_byte,
        },
    )


async def ready(_request: Request) -> Response:
    """The Lambda Web Adapter's readiness check."""
    return JSONResponse({"status": "ok", "targets": len(settings.targets().targets)})


async def not_found(request: Request, _exc) -> Response:
    error = GatewayError(ErrorCode.NOT_FOUND, f"no route for {request.method} {request.url.path}")
    return _error_response(error, _request_info(request).request_id)


async def method_not_allowed(request: Request, _exc) -> Response:
    error = GatewayError(
        ErrorCode.METHOD_NOT_ALLOWED, f"{request.method} is not allowed on {request.url.path}"
    )
    return _error_response(error, _request_info(request).request_id)


#: The function that serves each stream route of the route table, by route name.
ENDPOINTS: dict[str, Any] = {"stream": stream_endpoint}


def _starlette_path(route: routes.Route) -> str:
    # {target:path}: a raw ARN target keeps its '/' (API Gateway may hand it over decoded).
    return route.path.replace("{target}", "{target:path}")


starlette_app = Starlette(
    routes=[
        *(
            Route(_starlette_path(r), ENDPOINTS[r.name], methods=[r.method])
            for r in routes.for_door(routes.STREAM)
        ),
        Route(routes.STREAM_READINESS_PATH, ready, methods=["GET"]),
    ],
    exception_handlers={404: not_found, 405: method_not_allowed},
)
starlette_app.router.redirect_slashes = False  # never a redirect: a POST would not follow it


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI app. A trailing slash names the same route, as API Gateway's REST resources (and so the
    sync door) treat it."""
    path = scope.get("path", "")
    if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
        raw = scope.get("raw_path") or path.encode()
        scope = dict(scope, path=path.rstrip("/") or "/", raw_path=raw.rstrip(b"/") or b"/")
    await starlette_app(scope, receive, send)
