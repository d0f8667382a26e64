"""Error codes as HTTP: the one place statuses, ``Retry-After`` and the JSON error body are decided.

Used by the sync handler and the stream app alike, so both doors answer every error the same way.
"""

from __future__ import annotations

import json

from bedrock_gateway.core.errors import ErrorCode, GatewayError

STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_REQUEST: 400,
    ErrorCode.VALIDATION: 400,
    ErrorCode.RAW_MODEL_ID_FORBIDDEN: 403,
    ErrorCode.TARGET_NOT_ALLOWED: 403,
    ErrorCode.TARGET_NOT_FOUND: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.NOT_ACCEPTABLE: 406,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.THROTTLING: 429,
    ErrorCode.SERVICE_QUOTA_EXCEEDED: 429,
    ErrorCode.INTERNAL: 500,
    # Bedrock failing or refusing on its side is a bad gateway, never our 500.
    ErrorCode.MODEL_ERROR: 502,
    ErrorCode.ACCESS_DENIED: 502,
    ErrorCode.RESOURCE_NOT_FOUND: 502,
    ErrorCode.INTERNAL_SERVER: 502,
    ErrorCode.MODEL_STREAM_ERROR: 502,
    ErrorCode.MODEL_NOT_READY: 503,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.BEDROCK_UNREACHABLE: 503,
    ErrorCode.MODEL_TIMEOUT: 504,
}


def status_of(error: GatewayError) -> int:
    return STATUS[error.code]


def error_document(error: GatewayError, request_id: str | None) -> dict:
    """The public JSON error body: ``{"error": {"code", "message", "requestId"}}``."""
    return {"error": {"code": str(error.code), "message": error.message, "requestId": request_id}}


def error_body(error: GatewayError, request_id: str | None) -> bytes:
    return json.dumps(error_document(error, request_id), separators=(",", ":")).encode()


def error_headers(error: GatewayError) -> dict[str, str]:
    """``Retry-After`` on the statuses where waiting helps (429 and 503)."""
    if error.retry_after is not None and status_of(error) in (429, 503):
        return {"Retry-After": str(error.retry_after)}
    return {}
