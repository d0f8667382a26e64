"""InvokeModel (and Converse, CountTokens: the other one-shot calls), with a retry budget bounded by
the caller's deadline."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from bedrock_gateway.core.bedrock.runtime import runtime_client
from bedrock_gateway.core.clients import CallBudget
from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.targets import Target

T = TypeVar("T")

#: InvokeModel's request parameters that travel as headers, by the name ``Target.invoke_params`` gives.
PARAMETER_HEADERS = {
    "guardrailIdentifier": "X-Amzn-Bedrock-GuardrailIdentifier",
    "guardrailVersion": "X-Amzn-Bedrock-GuardrailVersion",
    "trace": "X-Amzn-Bedrock-Trace",
    "performanceConfigLatency": "X-Amzn-Bedrock-PerformanceConfig-Latency",
    "serviceTier": "X-Amzn-Bedrock-Service-Tier",
}


@dataclass(frozen=True)
class InvokeResult:
    """A finished one-shot call: Bedrock's body, and the figures its headers carry."""

    body: bytes
    content_type: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int | None  # Bedrock's own X-Amzn-Bedrock-Invocation-Latency
    headers: dict[str, str] = field(default_factory=dict)  # Bedrock's X-Amzn-Bedrock-* answer headers

    @classmethod
    def of(cls, body: bytes, headers: dict[str, str], operation: str = "invoke") -> InvokeResult:
        """InvokeModel's figures are headers; Converse's are the answer's ``usage`` and ``metrics``."""
        result = cls(
            body=body,
            content_type=headers.get("content-type") or "application/json",
            input_tokens=int_header(headers, "x-amzn-bedrock-input-token-count"),
            output_tokens=int_header(headers, "x-amzn-bedrock-output-token-count"),
            latency_ms=int_header(headers, "x-amzn-bedrock-invocation-latency"),
            headers={k: v for k, v in headers.items() if k.startswith("x-amzn-bedrock-")},
        )
        if operation != "converse":
            return result
        try:
            answer = json.loads(body)
            usage, metrics = answer.get("usage") or {}, answer.get("metrics") or {}
        except (ValueError, AttributeError):
            return result
        return replace(
            result,
            input_tokens=usage.get("inputTokens"),
            output_tokens=usage.get("outputTokens"),
            latency_ms=metrics.get("latencyMs"),
        )


def request_headers(target: Target, caller_headers: dict[str, str] | None = None) -> dict[str, str]:
    """The HTTP headers of an InvokeModel call (lower-case names): JSON in and out, the caller's
    ``X-Amzn-Bedrock-*`` headers (the Bedrock-compatible routes pass them on), and the target's
    options, which win."""
    headers = json_headers(caller_headers)
    for parameter, value in target.invoke_params().items():
        headers[PARAMETER_HEADERS[parameter].lower()] = value
    return headers


def json_headers(caller_headers: dict[str, str] | None = None) -> dict[str, str]:
    """JSON in and out, plus the caller's ``X-Amzn-Bedrock-*`` headers; nothing else of theirs."""
    headers = {"content-type": "application/json", "accept": "application/json"}
    for name, value in (caller_headers or {}).items():
        if name.lower().startswith("x-amzn-bedrock-"):
            headers[name.lower()] = value
    return headers


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
    target: Target,
    body: bytes,
    budget: CallBudget,
    *,
    attempts: int = 1,
    deadline: float | None = None,
    operation: str = "invoke",
    headers: dict[str, str] | None = None,
) -> InvokeResult:
    """``POST /model/{modelId}/{operation}`` for ``target`` with the already-prepared ``body``:
    InvokeModel by default, or ``converse`` / ``count-tokens`` (JSON in, JSON out). CountTokens is
    asked of the foundation model behind the target (it takes no inference profile)."""
    call_headers = request_headers(target, headers) if operation == "invoke" else json_headers(headers)
    model_id = target.counting_model_id if operation == "count-tokens" else target.model_id
    client = runtime_client(budget)

    def once() -> InvokeResult:
        response = client.post(model_id, operation, body, call_headers)
        return InvokeResult.of(response.body, response.headers, operation)

    return with_retries(once, budget, attempts, deadline)


def int_header(headers: dict[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
