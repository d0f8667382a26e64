"""The local HTTP front door on :8080, standing in for API Gateway.

Stream routes go to the same ASGI app that runs behind the Lambda Web Adapter in AWS; every other
route becomes an API Gateway REST proxy event for the real sync handler, run in a Lambda-like
process pool.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from bedrock_gateway.edge import routes

from devstack.apigw import API_GATEWAY_MAX_PAYLOAD, STAGE, build_event, error_response, response_parts
from devstack.authorizer import LocalAuthorizer
from devstack.lambda_pool import LambdaFunction

ASGIApp = Callable[[dict, Callable, Callable], Awaitable[None]]
# What the Lambda Web Adapter adds to each request it forwards; a client's own copies never pass.
_ADAPTER_HEADERS = (b"x-amzn-request-context", b"x-amzn-lambda-context")
_TOO_LARGE = object()  # sentinel: the body passed API Gateway's payload limit


async def _read_body(receive, limit: int):
    """The whole request body; None if the client left; _TOO_LARGE past ``limit``."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return _TOO_LARGE
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
            + [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(
    sync_function: LambdaFunction,
    stream_app: ASGIApp | None,
    authorizer: LocalAuthorizer | None = None,
    *,
    keys_everywhere: bool = True,
) -> ASGIApp:
    """The ASGI app for :8080 (``stream_app`` None: stream routes answer 501 until it is built).

    With an ``authorizer``, the routes that always take a gateway key (the Bedrock-compatible
    ``/model/...`` routes) require one, and so does every other route when ``keys_everywhere`` (as
    ``auth=key`` in AWS)."""

    async def app(scope: dict[str, Any], receive, send) -> None:
        if scope["type"] == "lifespan":
            if stream_app is not None:
                return await stream_app(scope, receive, send)
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        # The raw path: an ARN target's %2F must not split it into segments.
        raw_path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        # API Gateway matches a resource with or without a trailing slash.
        routed_path = raw_path.rstrip("/") or "/"
        route, _, _ = routes.match(scope["method"], routed_path)
        if route is None:
            # The deployed API has no resource for it either: API Gateway answers, before any authorizer.
            message = routes.NO_ROUTE_MESSAGE
            return await _send(send, *error_response(404, "NotFound", message, str(uuid.uuid4())))
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        context = None
        # API Gateway's authorizer is attached per method: the Bedrock-compatible routes take a
        # gateway key whatever the auth mode.
        if authorizer is not None and (keys_everywhere or route.auth == routes.KEY_AUTH):
            token = next((v for k, v in headers if k.lower() == "authorization"), None)
            context = await asyncio.to_thread(authorizer.context_for, token, scope["method"], raw_path)
            if context is None:
                return await _send(
                    send,
                    *error_response(401, "Unauthorized", routes.KEY_REQUIRED_MESSAGE, str(uuid.uuid4())),
                )
        if stream_app is not None and route.door == routes.STREAM:
            return await stream_app(_as_adapter_forwards(scope, context), receive, send)

        body = await _read_body(receive, API_GATEWAY_MAX_PAYLOAD)
        if body is None:
            return
        if body is _TOO_LARGE:
            message = "Request Too Long"
            return await _send(send, *error_response(413, "PayloadTooLarge", message, str(uuid.uuid4())))
        client = scope.get("client") or ("127.0.0.1", 0)
        event = build_event(
            scope["method"],
            raw_path,
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            body,
            client[0],
            authorizer=context,
        )
        try:
            outcome = await asyncio.wrap_future(sync_function.submit(event))
        except BrokenProcessPool:  # the process died mid-request: a function error, as in Lambda
            outcome = {"ok": False}
        request_id = event["requestContext"]["requestId"]
        if not outcome["ok"]:
            # What API Gateway answers when the Lambda function itself fails.
            return await _send(
                send,
                502,
                [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)],
                json.dumps({"message": "Internal server error"}).encode(),
            )
        status, response_headers, payload = response_parts(outcome["result"])
        # API Gateway sets these itself (the function's own request id header is the same id).
        response_headers = [
            (k, v) for k, v in response_headers if k.lower() not in ("content-length", "x-amzn-requestid")
        ]
        await _send(send, status, response_headers + [("x-amzn-RequestId", request_id)], payload)

    return app


def _as_adapter_forwards(scope: dict[str, Any], authorizer: dict[str, Any] | None) -> dict[str, Any]:
    """The request as the Lambda Web Adapter hands it to the stream app: API Gateway's request context
    (request id, authorizer context) in ``x-amzn-request-context``, whatever the client sent under that
    name."""
    headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _ADAPTER_HEADERS]
    context: dict[str, Any] = {"requestId": str(uuid.uuid4()), "stage": STAGE, "path": scope["path"]}
    if authorizer is not None:
        context["authorizer"] = authorizer
    headers.append((b"x-amzn-request-context", json.dumps(context).encode()))
    return dict(scope, headers=headers)
