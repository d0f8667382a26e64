"""Door-agnostic request preparation: size, JSON shape, target resolution, defaults."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import ErrorCode, GatewayError
from .targets import Target, TargetsConfig


@dataclass(frozen=True)
class PreparedCall:
    """A validated invocation: which target, and the exact bytes to send to Bedrock."""

    target: Target
    body: bytes


#: Longest integer literal accepted: far beyond any model parameter, far below Python's own limit.
MAX_INTEGER_DIGITS = 64


class _NotJson(ValueError):
    """A literal the JSON standard does not have (NaN, Infinity) or a number no JSON peer can hold."""


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotJson(f"the number {text[:32]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _NotJson(
            f"an integer of {len(text.lstrip('-'))} digits is too long (at most {MAX_INTEGER_DIGITS})"
        )
    return int(text)


def parse_json_object(raw: bytes | str, what: str = "request body") -> dict[str, Any]:
    """``raw`` parsed as a strict JSON object, or an InvalidRequest error that says what is wrong.

    Strict: ``NaN``, ``Infinity``, numbers out of a double's range and absurdly long integers are refused
    (Python's parser would accept them, and Bedrock or a re-serialization would then fail or change them).
    """
    if not raw:
        raise GatewayError(ErrorCode.INVALID_REQUEST, f"{what} is empty; send the model's JSON body")
    try:
        parsed = json.loads(
            raw, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except _NotJson as exc:
        raise GatewayError(ErrorCode.INVALID_REQUEST, f"{what} is not valid JSON: {exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise GatewayError(ErrorCode.INVALID_REQUEST, f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise GatewayError(ErrorCode.INVALID_REQUEST, f"{what} is nested too deeply") from None
    if not isinstance(parsed, dict):
        raise GatewayError(
            ErrorCode.INVALID_REQUEST, f"{what} must be a JSON object, got {type(parsed).__name__}"
        )
    return parsed


def check_size(size: int, limit: int, *, at_least: bool = False) -> None:
    """A PayloadTooLarge error when a body of ``size`` bytes (``at_least`` that many) is over ``limit``."""
    if size > limit:
        amount = f"at least {size}" if at_least else str(size)
        raise GatewayError(
            ErrorCode.PAYLOAD_TOO_LARGE, f"request body is {amount} bytes; the limit is {limit} bytes"
        )


def prepare_call(config: TargetsConfig, target_name: str, raw_body: bytes) -> PreparedCall:
    """Validate a raw request body for ``target_name`` and build the Bedrock request bytes."""
    target = config.resolve(target_name)
    check_size(len(raw_body), config.max_body_bytes)
    parsed = parse_json_object(raw_body)
    return PreparedCall(target, target.prepare_body(raw_body, parsed))


def prepare_job_body(config: TargetsConfig, target_name: str, body: dict[str, Any]) -> PreparedCall:
    """Like :func:`prepare_call` for a body that arrived already parsed (an SQS job)."""
    try:
        raw = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    except ValueError as exc:  # a producer's message parsed leniently elsewhere
        raise GatewayError(ErrorCode.INVALID_REQUEST, f"job body is not valid JSON: {exc}") from None
    target = config.resolve(target_name)
    check_size(len(raw), config.max_body_bytes)
    return PreparedCall(target, target.prepare_body(raw, body))
