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


def parse_json_object(raw: bytes | str, what: str = "request body") -> dict[str, Any]:
    """``raw`` parsed as a JSON object, or a 400 GatewayError that says what is wrong."""
    if not raw:
        raise GatewayError(ErrorCode.INVALID_REQUEST, f"{what} is empty; send the model's JSON body")
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GatewayError(ErrorCode.INVALID_REQUEST, f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise GatewayError(ErrorCode.INVALID_REQUEST, f"{what} is nested too deeply") from None
    if not isinstance(parsed, dict):
        raise GatewayError(
            ErrorCode.INVALID_REQUEST, f"{what} must be a JSON object, got {type(parsed).__name__}"
        )
    return parsed


def check_size(raw: bytes, limit: int) -> None:
    if len(raw) > limit:
        raise GatewayError(
            ErrorCode.PAYLOAD_TOO_LARGE, f"request body is {len(raw)} bytes; the limit is {limit} bytes"
        )


def prepare_call(config: TargetsConfig, target_name: str, raw_body: bytes) -> PreparedCall:
    """Validate a raw request body for ``target_name`` and build the Bedrock request bytes."""
    target = config.resolve(target_name)
    check_size(raw_body, config.max_body_bytes)
    parsed = parse_json_object(raw_body)
    return PreparedCall(target, target.prepare_body(raw_body, parsed))


def prepare_job_body(config: TargetsConfig, target_name: str, body: dict[str, Any]) -> PreparedCall:
    """Like :func:`prepare_call` for a body that arrived already parsed (an SQS job)."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    target = config.resolve(target_name)
    check_size(raw, config.max_body_bytes)
    return PreparedCall(target, target.prepare_body(raw, body))
