"""One error taxonomy for every front door: HTTP status, transient or permanent, and the public code.

The sync API maps a :class:`GatewayError` to its status and JSON body; the stream app does the same
before the first byte and sends an ``error`` event after it; the SQS worker retries transient errors
and fails permanent ones at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class _Kind:
    status: int
    transient: bool
    retry_after: int | None = None


class ErrorCode(str, Enum):
    """Public error codes. Bedrock's own exceptions keep their names so callers can search the docs."""

    INVALID_REQUEST = "InvalidRequest"
    RAW_MODEL_ID_FORBIDDEN = "RawModelIdNotAllowed"
    TARGET_NOT_FOUND = "TargetNotFound"
    NOT_FOUND = "NotFound"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    CONFLICT = "Conflict"
    PAYLOAD_TOO_LARGE = "PayloadTooLarge"
    UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
    INTERNAL = "InternalError"
    # Bedrock's modeled exceptions
    VALIDATION = "ValidationException"
    THROTTLING = "ThrottlingException"
    SERVICE_QUOTA_EXCEEDED = "ServiceQuotaExceededException"
    MODEL_ERROR = "ModelErrorException"
    ACCESS_DENIED = "AccessDeniedException"
    RESOURCE_NOT_FOUND = "ResourceNotFoundException"
    MODEL_NOT_READY = "ModelNotReadyException"
    SERVICE_UNAVAILABLE = "ServiceUnavailableException"
    MODEL_TIMEOUT = "ModelTimeoutException"
    INTERNAL_SERVER = "InternalServerException"
    MODEL_STREAM_ERROR = "ModelStreamErrorException"
    BEDROCK_UNREACHABLE = "BedrockUnreachable"

    def __str__(self) -> str:
        return self.value


_KINDS: dict[ErrorCode, _Kind] = {
    ErrorCode.INVALID_REQUEST: _Kind(400, False),
    ErrorCode.RAW_MODEL_ID_FORBIDDEN: _Kind(403, False),
    ErrorCode.TARGET_NOT_FOUND: _Kind(404, False),
    ErrorCode.NOT_FOUND: _Kind(404, False),
    ErrorCode.METHOD_NOT_ALLOWED: _Kind(405, False),
    ErrorCode.CONFLICT: _Kind(409, False),
    ErrorCode.PAYLOAD_TOO_LARGE: _Kind(413, False),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: _Kind(415, False),
    ErrorCode.INTERNAL: _Kind(500, False),
    ErrorCode.VALIDATION: _Kind(400, False),
    ErrorCode.THROTTLING: _Kind(429, True, retry_after=2),
    ErrorCode.SERVICE_QUOTA_EXCEEDED: _Kind(429, True, retry_after=10),
    ErrorCode.MODEL_ERROR: _Kind(502, False),
    ErrorCode.ACCESS_DENIED: _Kind(502, False),
    ErrorCode.RESOURCE_NOT_FOUND: _Kind(502, False),
    ErrorCode.MODEL_NOT_READY: _Kind(503, True, retry_after=10),
    ErrorCode.SERVICE_UNAVAILABLE: _Kind(503, True, retry_after=5),
    ErrorCode.MODEL_TIMEOUT: _Kind(504, True),
    # Not in SPEC's table: Bedrock failing on its side is a bad gateway, and worth a retry.
    ErrorCode.INTERNAL_SERVER: _Kind(502, True),
    ErrorCode.MODEL_STREAM_ERROR: _Kind(502, True),
    ErrorCode.BEDROCK_UNREACHABLE: _Kind(503, True, retry_after=5),
}

# Bedrock reports exceptions by shape name on the sync path and by camelCase member mid-stream.
_BEDROCK_CODES = {code.value: code for code in _KINDS if code.value.endswith("Exception")}
_BEDROCK_CODES.update(
    {code.value[0].lower() + code.value[1:]: code for code in list(_BEDROCK_CODES.values())}
)


class GatewayError(Exception):
    """An error with a public code, message and HTTP status; ``transient`` says whether a retry may help."""

    def __init__(self, code: ErrorCode, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        kind = _KINDS[code]
        self.status = kind.status
        self.transient = kind.transient
        self.retry_after = retry_after if retry_after is not None else kind.retry_after

    def to_dict(self, request_id: str | None = None) -> dict:
        """The public JSON error body."""
        return {"error": {"code": str(self.code), "message": self.message, "requestId": request_id}}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}

    def __repr__(self) -> str:
        return f"GatewayError({self.code.value}, {self.message!r})"


def from_bedrock_code(code: str, message: str) -> GatewayError:
    """Map a Bedrock exception name (``ThrottlingException`` or ``throttlingException``) to a GatewayError."""
    mapped = _BEDROCK_CODES.get(code)
    if mapped is None:
        return GatewayError(ErrorCode.INTERNAL, f"unexpected Bedrock error {code}: {message}")
    return GatewayError(mapped, message or code)
