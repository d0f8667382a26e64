"""Logs, metrics and traces, the same from every door (sync API, stream app, SQS worker).

Metrics go out as CloudWatch EMF in namespace :data:`NAMESPACE`, always with the ``service``
dimension. Every door emits the same names with the same dimensions, so one alarm or dashboard
widget sees them all (infra reads the constants below):

- ``Invocations``, ``LatencyMs``, ``InputTokens``, ``OutputTokens`` (and ``TimeToFirstTokenMs`` for
  streams) by ``Target``, for every finished model invocation;
- ``Errors`` by ``ErrorCode``, for every error a caller gets or a job attempt meets;
- usage by ``Tenant`` and ``Target`` (``Invocations``, ``InputTokens``, ``OutputTokens``, and
  ``CostUsd`` where the target has a price), with one ``usage`` log line per invocation for billing.

Which door emitted a record is a property (``door``), not a dimension, so it costs no extra metric.
Each record is its own EMF document (Powertools' ``EphemeralMetrics``): safe from the worker's threads,
and nothing leaks from one invocation into the next.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from bedrock_gateway.core.callers import Caller
from bedrock_gateway.core.errors import GatewayError
from bedrock_gateway.core.targets import Target

if TYPE_CHECKING:
    from bedrock_gateway.core.bedrock import InvokeResult

SERVICE = "bedrock-gateway"
NAMESPACE = "BedrockGateway"
ERRORS_METRIC = "Errors"
ERROR_CODE_DIMENSION = "ErrorCode"
TARGET_DIMENSION = "Target"
TENANT_DIMENSION = "Tenant"
INVOCATION_METRICS = ("Invocations", "LatencyMs", "InputTokens", "OutputTokens", "TimeToFirstTokenMs")
#: The Target dimension of a raw model ID (allowed by config): IDs would make unbounded dimension values.
RAW_MODEL_ID_TARGET = "raw-model-id"

logger = Logger(service=SERVICE)


@functools.cache
def metrics():
    """The handler-level metrics (cold starts and per-invocation counts flushed by ``log_metrics``)."""
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=NAMESPACE, service=SERVICE)


#: What X-Ray instruments: every AWS call we make goes through botocore. Powertools' default patches
#: every library the X-Ray SDK supports that can be imported (sqlite3, requests, httpx, ...), paying
#: their imports at cold start for calls the gateway never makes.
TRACED_MODULES = ("botocore",)


@functools.cache
def tracer():
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE, patch_modules=TRACED_MODULES)


def _record(
    door: str, dimensions: dict[str, str], values: dict[str, tuple[MetricUnit, float | None]]
) -> None:
    record = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    for name, value in dimensions.items():
        record.add_dimension(name, value)
    for name, (unit, amount) in values.items():
        if amount is not None:
            record.add_metric(name, unit, amount)
    record.add_metadata("door", door)
    record.flush_metrics()


def record_invocation(
    door: str,
    call_target: Target,
    caller: Caller,
    *,
    latency_ms: float | None,
    input_tokens: int | None,
    output_tokens: int | None,
    time_to_first_token_ms: float | None = None,
) -> None:
    """One finished model invocation of ``call_target`` by ``caller``: the metrics by target, the usage by
    tenant and target (with its cost when the target has a price), and the usage log line."""
    target = target_dimension(call_target.name, call_target.raw)
    tenant = caller.tenant
    cost_usd = call_target.price.cost(input_tokens, output_tokens) if call_target.price else None
    _record(
        door,
        {TARGET_DIMENSION: target},
        {
            "Invocations": (MetricUnit.Count, 1),
            "LatencyMs": (MetricUnit.Milliseconds, latency_ms),
            "InputTokens": (MetricUnit.Count, input_tokens),
            "OutputTokens": (MetricUnit.Count, output_tokens),
            "TimeToFirstTokenMs": (MetricUnit.Milliseconds, time_to_first_token_ms),
        },
    )
    _record(
        door,
        {TENANT_DIMENSION: tenant, TARGET_DIMENSION: target},
        {
            "Invocations": (MetricUnit.Count, 1),
            "InputTokens": (MetricUnit.Count, input_tokens),
            "OutputTokens": (MetricUnit.Count, output_tokens),
            "CostUsd": (MetricUnit.NoUnit, cost_usd),
        },
    )
    usage = {
        "door": door,
        "tenant": tenant,
        "target": target,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "latency_ms": latency_ms,
        "cost_usd": cost_usd,
    }
    logger.info("usage", extra={"usage": usage})


def record_answer(
    door: str, call_target: Target, caller: Caller, result: InvokeResult, started: float
) -> None:
    """:func:`record_invocation` for a one-shot call's result; its latency is Bedrock's own
    (``X-Amzn-Bedrock-Invocation-Latency``), else the time since ``started`` (``time.perf_counter()``)."""
    latency_ms = result.latency_ms
    if latency_ms is None:
        latency_ms = round((time.perf_counter() - started) * 1000)
    record_invocation(
        door,
        call_target,
        caller,
        latency_ms=latency_ms,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
    )


def record_error(door: str, error: GatewayError) -> None:
    """One error by its code (the throttling alarm and the errors-by-code widget read these)."""
    _record(door, {ERROR_CODE_DIMENSION: str(error.code)}, {ERRORS_METRIC: (MetricUnit.Count, 1)})


def record_count(door: str, name: str, amount: int = 1) -> None:
    """A door-specific count with no dimension but ``service`` (jobs by outcome, client disconnects)."""
    if amount:
        _record(door, {}, {name: (MetricUnit.Count, amount)})


def target_dimension(name: str, raw: bool) -> str:
    return RAW_MODEL_ID_TARGET if raw else name
