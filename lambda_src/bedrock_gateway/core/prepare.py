"""Door-agnostic request preparation: size, JSON shape, target resolution, defaults."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from . import legacy
from .errors import ErrorCode, GatewayError
from .targets import Target, TargetsConfig


@dataclass(frozen=True)
class PreparedCall:
    """A validated invocation: which target, and the exact bytes to send to Bedrock. ``legacy``: the
    caller sent a text-completion body, translated to Messages: translate the answer back."""

    target: Target
    body: bytes
    legacy: bool = False


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


def check_size(
    size: int, limit: int, *, at_least: bool = False, made_of: str = "", what: str = "request body"
) -> None:
    """A PayloadTooLarge error when ``what`` of ``size`` bytes (``at_least`` that many) is over ``limit``
    (``made_of``: what the limit adds up, for a limit that is not the configured one as it stands)."""
    if size > limit:
        amount = f"at least {size}" if at_least else str(size)
        parts = f" ({made_of})" if made_of else ""
        raise GatewayError(
            ErrorCode.PAYLOAD_TOO_LARGE, f"{what} is {amount} bytes; the limit is {limit} bytes{parts}"
        )


def prepare_call(config: TargetsConfig, target_name: str, raw_body: bytes) -> PreparedCall:
    """Validate a raw request body for ``target_name`` and build the Bedrock request bytes."""
    target = config.resolve(target_name)
    check_size(len(raw_body), config.max_body_bytes)
    return _prepared(target, raw_body, parse_json_object(raw_body))


def _prepared(target: Target, raw: bytes, parsed: dict[str, Any]) -> PreparedCall:
    if target.legacy_completions and legacy.is_legacy(parsed):
        translated = legacy.to_messages(parsed)
        return PreparedCall(target, target.prepare_body(_compact(translated), translated), legacy=True)
    return PreparedCall(target, target.prepare_body(raw, parsed))


def _compact(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()


def prepare_converse(config: TargetsConfig, target_name: str, raw_body: bytes) -> PreparedCall:
    """A Converse (or ConverseStream) request for ``target_name``: the caller's JSON, with the target's
    guardrail, latency and service tier set (the target's options win, as for InvokeModel)."""
    target = config.resolve(target_name)
    check_size(len(raw_body), config.max_body_bytes)
    body = parse_json_object(raw_body)
    options = converse_options(target)
    if not options:
        return PreparedCall(target, raw_body)
    for key, value in options.items():
        body[key] = {**body[key], **value} if isinstance(body.get(key), dict) else value
    return PreparedCall(target, _compact(body))


def prepare_count_tokens(config: TargetsConfig, target_name: str, raw_body: bytes) -> PreparedCall:
    """A CountTokens request for ``target_name``, sent as it came, except that an InvokeModel body in it
    (``input.invokeModel.body``, base64) is prepared as InvokeModel would send it: the target's defaults
    merged, a text-completion body translated. The count is then of what an invoke of that body sends."""
    target = config.resolve(target_name)
    check_size(len(raw_body), config.max_body_bytes)
    request = parse_json_object(raw_body)
    given = request.get("input")
    invoke = given.get("invokeModel") if isinstance(given, dict) else None
    if not (isinstance(invoke, dict) and isinstance(invoke.get("body"), str)):
        return PreparedCall(target, raw_body)  # Converse input, or a shape Bedrock will refuse itself
    try:
        body = base64.b64decode(invoke["body"], validate=True)
    except ValueError:
        return PreparedCall(target, raw_body)  # not base64: Bedrock's refusal says so
    prepared = _prepared(target, body, parse_json_object(body, what="input.invokeModel.body"))
    if prepared.body == body:
        return PreparedCall(target, raw_body)
    invoke["body"] = base64.b64encode(prepared.body).decode("ascii")
    return PreparedCall(target, json.dumps(request, separators=(",", ":"), allow_nan=False).encode())


def converse_options(target: Target) -> dict[str, Any]:
    """The Converse body fields for the target's options (InvokeModel takes them as headers)."""
    options: dict[str, Any] = {}
    if target.guardrail:
        guardrail: dict[str, Any] = {
            "guardrailIdentifier": target.guardrail.id,
            "guardrailVersion": target.guardrail.version,
        }
        if target.trace:
            guardrail["trace"] = target.trace.lower()
        options["guardrailConfig"] = guardrail
    if target.performance_latency:
        options["performanceConfig"] = {"latency": target.performance_latency}
    if target.service_tier:
        options["serviceTier"] = {"type": target.service_tier}
    return options


def prepare(
    config: TargetsConfig, target_name: str, raw_body: bytes, operation: str = "invoke"
) -> PreparedCall:
    """The request for one of Bedrock Runtime's operations (``invoke``, ``converse-stream``...)."""
    if operation in ("converse", "converse-stream"):
        return prepare_converse(config, target_name, raw_body)
    if operation == "count-tokens":
        return prepare_count_tokens(config, target_name, raw_body)
    return prepare_call(config, target_name, raw_body)


def prepare_job_body(config: TargetsConfig, target_name: str, body: dict[str, Any]) -> PreparedCall:
    """Like :func:`prepare_call` for a body that arrived already parsed (an SQS job)."""
    try:
        raw = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    except ValueError as exc:  # a producer's message parsed leniently elsewhere
        raise GatewayError(ErrorCode.INVALID_REQUEST, f"job body is not valid JSON: {exc}") from None
    target = config.resolve(target_name)
    check_size(
        len(raw),
        config.max_body_bytes,
        what="the job's model body, as compact JSON,",
        made_of="max_body_bytes",
    )
    return _prepared(target, raw, body)
