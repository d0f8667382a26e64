"""Streaming front door: the route table's stream routes as a small ASGI app.

In AWS it runs under uvicorn behind the Lambda Web Adapter in ``response_stream`` mode, with API
Gateway's STREAM integration; locally ``make run`` mounts the same ``app`` object. What Bedrock sends
is written as soon as it arrives: one ASGI body message per network read from Bedrock, no buffering.

The ``/v1`` routes frame events as Server-Sent Events or NDJSON (:mod:`bedrock_gateway.edge.stream_writers`);
errors before the first byte are ordinary JSON error responses, after it an ``error`` event. The
``/model/...`` routes forward Bedrock's event-stream frames as they came, errors in Bedrock's shape.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
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
from bedrock_gateway.core import bedrock, callers, legacy
from bedrock_gateway.core.callers import Caller
from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.eventstream import Frame, FrameReader, chunk_frame
from bedrock_gateway.core.prepare import PreparedCall, check_size, prepare
from bedrock_gateway.edge import routes
from bedrock_gateway.edge.bedrock_wire import answer_headers
from bedrock_gateway.edge.bedrock_wire import error_response as bedrock_error_response
from bedrock_gateway.edge.errors import error_document, error_headers, status_of
from bedrock_gateway.edge.stream_writers import BedrockWriter, EventWriter, StreamWriter

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


def _error_response(exc: GatewayError, request_id: str, *, bedrock_wire: bool = False) -> Response:
    if bedrock_wire:
        status, headers, body = bedrock_error_response(exc, request_id)
        return Response(body, status_code=status, headers=headers)
    return JSONResponse(
        error_document(exc, request_id),
        status_code=status_of(exc),
        headers={**error_headers(exc), "x-amzn-RequestId": request_id},
    )


async def stream_endpoint(request: Request) -> Response:
    """``/v1/targets/{target}/stream``: InvokeModelWithResponseStream, SSE or NDJSON."""
    return await _serve(
        request, request.path_params["target"], "invoke-with-response-stream", bedrock_wire=False
    )


async def converse_stream_endpoint(request: Request) -> Response:
    """``/v1/targets/{target}/converse-stream``: ConverseStream, SSE or NDJSON."""
    return await _serve(request, request.path_params["target"], "converse-stream", bedrock_wire=False)


async def bedrock_invoke_stream(request: Request) -> Response:
    """``/model/{modelId}/invoke-with-response-stream``, Bedrock's own wire."""
    return await _serve(
        request, request.path_params["modelId"], "invoke-with-response-stream", bedrock_wire=True
    )


async def bedrock_converse_stream(request: Request) -> Response:
    """``/model/{modelId}/converse-stream``, Bedrock's own wire."""
    return await _serve(request, request.path_params["modelId"], "converse-stream", bedrock_wire=True)


async def _serve(request: Request, name: str, operation: str, *, bedrock_wire: bool) -> Response:
    """Open the Bedrock stream, wait for its first frames, then forward them as they come."""
    info = _request_info(request)
    try:
        writer: StreamWriter = (
            BedrockWriter() if bedrock_wire else EventWriter(request.headers.get("accept"), operation)
        )
        body = await _read_body(request, settings.targets().max_body_bytes)
        config = settings.targets()
        info.caller.check_target(name, config)
        call = prepare(config, name, body, operation)
        passed_headers = dict(request.headers) if bedrock_wire else None
        opened = await anyio.to_thread.run_sync(_open, call, operation, passed_headers, not bedrock_wire)
    except GatewayError as exc:
        _record_error(exc, info, before_first_byte=True)
        return _error_response(exc, info.request_id, bedrock_wire=bedrock_wire)
    except Exception:
        logger.exception("unexpected error opening stream", extra=info.log)
        error = GatewayError(ErrorCode.INTERNAL, "internal error")
        _record_error(error, info, before_first_byte=True)
        return _error_response(error, info.request_id, bedrock_wire=bedrock_wire)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "x-amzn-RequestId": info.request_id}
    if bedrock_wire:
        headers.update(answer_headers(opened.stream.headers if opened.stream else {}))
    else:
        headers.update({"X-Target": call.target.name, "X-Stream-Mode": opened.mode})
        model_id = config.shown_model_id(call.target)
        if model_id is not None:
            headers["X-Model-Id"] = model_id
    writer.start(call.legacy, info.request_id)
    return StreamingResponse(
        _forward(call, opened, writer, info), media_type=writer.media_type, headers=headers
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
    """A stream ready to forward: its first frames are in hand, so no early error can surprise us."""

    first: list[Frame]
    mode: str  # "stream", or "invoke-fallback" for targets that cannot stream
    metrics: bedrock.StreamMetrics
    stream: bedrock.ResponseStream | None = None  # None in fallback mode: `first` was the whole answer
    rest: Iterator[list[Frame]] = field(default_factory=lambda: iter(()))


def _open(call: PreparedCall, operation: str, headers: dict[str, str] | None, gateway_wire: bool) -> _Opened:
    """Blocking part of opening: get the first frames (or the whole fallback answer).

    Waiting for them before answering lets an early Bedrock error (throttling, a bad body) still be a
    normal HTTP error on the ``/v1`` routes, at no cost: there is nothing to send before it. The
    Bedrock-compatible routes forward whatever Bedrock sent, as Bedrock sent it, and are retried by the
    SDK on the other side (so not here), with no fallback: they behave as Bedrock does.
    """
    can_fall_back = gateway_wire and operation == "invoke-with-response-stream"
    if can_fall_back and bedrock.streaming_supported(call.target) is False:
        return _fallback(call)
    try:
        stream = bedrock.open_stream(
            call.target,
            call.body,
            settings.STREAM_BUDGET,
            attempts=settings.STREAM_OPEN_ATTEMPTS if gateway_wire else 1,
            operation=operation,
            headers=headers,
        )
    except GatewayError as exc:
        if (
            can_fall_back
            and exc.code is ErrorCode.VALIDATION
            and any(s in exc.message.lower() for s in _STREAMING_UNSUPPORTED)
        ):
            return _fallback(call)
        raise
    batches = stream.batches()
    try:
        first = next(batches, [])
        if gateway_wire and first and first[0].message_type != "event":
            raise bedrock.frame_error(first[0])
    except BaseException:
        stream.close()
        raise
    return _Opened(first, "stream", stream.metrics, stream, batches)


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
    body = legacy.from_messages(result.body) if call.legacy else result.body
    return _Opened(FrameReader().feed(chunk_frame(body)), "invoke-fallback", metrics)


_END = object()


async def _arriving(batches: Iterator[list[Frame]]) -> AsyncIterator[list[Frame]]:
    """``batches`` read by a thread of their own and handed over as they arrive, without a round trip
    per batch: batches that arrive while the last one is still being written go out together (fewer,
    larger writes under load; never a wait for more). A thread per stream, not a pool's: a stream
    holds it for its whole life, and a pool would cap how many streams run at once."""
    loop = asyncio.get_running_loop()
    arrived: asyncio.Queue[Any] = asyncio.Queue()

    def hand_over(item: Any) -> None:
        try:
            loop.call_soon_threadsafe(arrived.put_nowait, item)
        except RuntimeError:  # the loop is gone: nobody is listening any more
            pass

    def read() -> None:
        try:
            for batch in batches:
                hand_over(batch)
        except BaseException as exc:  # noqa: BLE001 - handed to the writer, which reports it
            hand_over(exc)
        else:
            hand_over(_END)

    threading.Thread(target=read, name="bedrock-stream-reader", daemon=True).start()
    while True:
        item = await arrived.get()
        merged: list[Frame] = []
        while True:
            if item is _END:
                if merged:
                    yield merged
                return
            if isinstance(item, BaseException):
                if merged:
                    yield merged
                raise item
            merged.extend(item)
            if arrived.empty():
                break
            item = arrived.get_nowait()
        yield merged


async def _forward(
    call: PreparedCall, opened: _Opened, writer: StreamWriter, info: _RequestInfo
) -> AsyncIterator[bytes]:
    """One body message per batch of frames, as they came from Bedrock."""
    finished = False
    try:
        rest = _arriving(opened.rest)
        batch: list[Frame] | None = opened.first
        while batch is not None:
            data, error = writer.frames(batch)
            if data:
                yield data
            if error is not None:
                finished = True
                _record_error(error, info, before_first_byte=False)
                return
            batch = await anext(rest, None)
        summary = opened.metrics
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
        done = dict(
            summary.to_dict(), target=call.target.name, modelId=settings.targets().shown_model_id(call.target)
        )
        tail = writer.done(done)
        if tail:
            yield tail
    except GatewayError as exc:
        finished = True
        _record_error(exc, info, before_first_byte=False)
        yield writer.error(exc)
    except Exception:
        finished = True
        logger.exception("unexpected error mid-stream", extra=info.log)
        error = GatewayError(ErrorCode.INTERNAL, "internal error")
        _record_error(error, info, before_first_byte=False)
        yield writer.error(error)
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
    return _error_response(error, _request_info(request).request_id, bedrock_wire=_bedrock_path(request))


async def method_not_allowed(request: Request, _exc) -> Response:
    error = GatewayError(
        ErrorCode.METHOD_NOT_ALLOWED, f"{request.method} is not allowed on {request.url.path}"
    )
    return _error_response(error, _request_info(request).request_id, bedrock_wire=_bedrock_path(request))


def _bedrock_path(request: Request) -> bool:
    return request.url.path.startswith(routes.BEDROCK_PREFIX)


#: The function that serves each stream route of the route table, by route name.
ENDPOINTS: dict[str, Any] = {
    "stream": stream_endpoint,
    "converse_stream": converse_stream_endpoint,
    "bedrock_invoke_stream": bedrock_invoke_stream,
    "bedrock_converse_stream": bedrock_converse_stream,
}


def _starlette_path(route: routes.Route) -> str:
    # {target:path}: a raw ARN keeps its '/' (API Gateway may hand it over decoded).
    return re.sub(r"\{(target|modelId)\}", r"{\1:path}", route.path)


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
