"""InvokeModel, with a retry budget bounded by the caller's deadline."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bedrock_gateway.core.bedrock.translate import translate
from bedrock_gateway.core.clients import CallBudget, client
from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.targets import Target

T = TypeVar("T")


@dataclass(frozen=True)
class InvokeResult:
    """A finished InvokeModel call."""

    body: bytes
    content_type: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int | None  # Bedrock's own X-Amzn-Bedrock-Invocation-Latency


def request_params(target: Target, body: bytes) -> dict[str, Any]:
    """InvokeModel / InvokeModelWithResponseStream parameters (they take the same ones)."""
    return {
        "modelId": target.model_id,
        "body": body,
        "contentType": "application/json",
        "accept": "application/json",
        **target.invoke_params(),
    }


def with_retries(call: Callable[[], T], budget: CallBudget, attempts: int, deadline: float | None) -> T:
    """``call()``, retried on retryable errors that came back fast (throttling, not ready, 5xx).

    Jittered exponential backoff, and only while a whole new attempt (``budget.read_timeout``) still
    fits before ``deadline`` (a ``time.monotonic()`` value): a caller is never held past its own
    timeout. A read timeout is never retried: the model was already given all the time there was.
    """
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except GatewayError as exc:
            delay = min(2.0, 0.25 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            time_left = float("inf") if deadline is None else deadline - time.monotonic()
            if (
                not exc.retryable
                or exc.code is ErrorCode.MODEL_TIMEOUT
                or attempt == attempts
                or time_left < delay + budget.read_timeout
            ):
                raise
            time.sleep(delay)
    raise AssertionError("unreachable")


def invoke(
    target: Target, body: bytes, budget: CallBudget, *, attempts: int = 1, deadline: float | None = None
) -> InvokeResult:
    """Call InvokeModel for ``target`` with the already-prepared ``body``."""
    return with_retries(lambda: _invoke_once(target, body, budget), budget, attempts, deadline)


def _invoke_once(target: Target, body: bytes, budget: CallBudget) -> InvokeResult:
    runtime = client("bedrock-runtime", budget)
    try:
        response = runtime.invoke_model(**request_params(target, body))
        payload = response["body"].read()
    except Exception as exc:
        raise translate(exc) from exc
    headers = response["ResponseMetadata"].get("HTTPHeaders", {})
    return InvokeResult(
        body=payload,
        content_type=response.get("contentType") or "application/json",
        input_tokens=int_header(headers, "x-amzn-bedrock-input-token-count"),
        output_tokens=int_header(headers, "x-amzn-bedrock-output-token-count"),
        latency_ms=int_header(headers, "x-amzn-bedrock-invocation-latency"),
    )


def int_header(headers: dict[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
