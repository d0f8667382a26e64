"""One error taxonomy for every door: the public code, whose fault it is, and whether a retry may help.

The core knows nothing of HTTP. The HTTP doors map an error's code to a status in
:mod:`bedrock_gateway.edge.errors`; the SQS worker retries retryable errors and fails the rest at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Fault(str, Enum):
    """Whose fault an error is: it decides whether a caller should change the request or retry it."""

    CALLER = "caller"  # the request (or the caller's config choice) is wrong: fix it, do not retry
    BEDROCK = "bedrock"  # Bedrock refused or failed
    GATEWAY = "gateway"  # our own failure


@dataclass(frozen=True)
class ErrorKind:
    fault: Fault
    retryable: bool
    retry_after: int | None = None  # seconds a retry should wait at least, when it is worth one


class ErrorCode(str, Enum):
    """Public error codes. Bedrock's own exceptions keep their names so callers can search the docs."""

    INVALID_REQUEST = "InvalidRequest"
    RAW_MODEL_ID_FORBIDDEN = "RawModelIdNotAllowed"
    TARGET_NOT_ALLOWED = "TargetNotAllowed"
    TARGET_NOT_FOUND = "TargetNotFound"
    NOT_FOUND = "NotFound"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    CONFLICT = "Conflict"
    PAYLOAD_TOO_LARGE = "PayloadTooLarge"
    UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
    NOT_ACCEPTABLE = "NotAcceptable"
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


_CALLER = ErrorKind(Fault.CALLER, retryable=False)
KINDS: dict[ErrorCode, ErrorKind] = {
    ErrorCode.INVALID_REQUEST: _CALLER,
    ErrorCode.RAW_MODEL_ID_FORBIDDEN: _CALLER,
    ErrorCode.TARGET_NOT_ALLOWED: _CALLER,
    ErrorCode.TARGET_NOT_FOUND: _CALLER,
    ErrorCode.NOT_FOUND: _CALLER,
    ErrorCode.METHOD_NOT_ALLOWED: _CALLER,
    ErrorCode.CONFLICT: _CALLER,
    ErrorCode.PAYLOAD_TOO_LARGE: _CALLER,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: _CALLER,
    ErrorCode.NOT_ACCEPTABLE: _CALLER,
    ErrorCode.VALIDATION: _CALLER,  # Bedrock says the body is wrong: the caller's to fix
    ErrorCode.INTERNAL: ErrorKind(Fault.GATEWAY, retryable=False),
    ErrorCode.THROTTLING: ErrorKind(Fault.BEDROCK, retryable=True, retry_after=2),
    ErrorCode.SERVICE_QUOTA_EXCEEDED: ErrorKind(Fault.BEDROCK, retryable=True, retry_after=10),
    ErrorCode.MODEL_ERROR: ErrorKind(Fault.BEDROCK, retryable=False),
    ErrorCode.ACCESS_DENIED: ErrorKind(Fault.BEDROCK, retryable=False),
    ErrorCode.RESOURCE_NOT_FOUND: ErrorKind(Fault.BEDROCK, retryable=False),
    ErrorCode.MODEL_NOT_READY: ErrorKind(Fault.BEDROCK, retryable=True, retry_after=10),
    ErrorCode.SERVICE_UNAVAILABLE: ErrorKind(Fault.BEDROCK, retryable=True, retry_after=5),
    ErrorCode.MODEL_TIMEOUT: ErrorKind(Fault.BEDROCK, retryable=True),
    ErrorCode.INTERNAL_SERVER: ErrorKind(Fault.BEDROCK, retryable=True),
    ErrorCode.MODEL_STREAM_ERROR: ErrorKind(Fault.BEDROCK, retryable=True),
    ErrorCode.BEDROCK_UNREACHABLE: ErrorKind(Fault.BEDROCK, retryable=True, retry_after=5),
}

# Bedrock reports exceptions by shape name on the sync path and by camelCase member mid-stream.
_BEDROCK_CODES = {code.value: code for code in KINDS if code.value.endswith("Exception")}
_BEDROCK_CODES.update(
    {code.value[0].lower() + code.value[1:]: code for code in list(_BEDROCK_CODES.values())}
)


class GatewayError(Exception):
    """An error with a public code and message; ``retryable`` says whether a retry may help.

    ``message`` is what a caller may read; ``detail``, when set, is the unedited original for the logs.
    """

    def __init__(
        self, code: ErrorCode, message: str, *, retry_after: int | None = None, detail: str | None = None
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail
        self.kind = KINDS[code]
        self.retry_after = retry_after if retry_after is not None else self.kind.retry_after

    @property
    def retryable(self) -> bool:
        return self.kind.retryable

    @property
    def fault(self) -> Fault:
        return self.kind.fault

    def __repr__(self) -> str:
        return f"GatewayError({self.code.value}, {self.message!r})"


# An ARN that names an account (a role, a principal, an account's resource) and a bare account ID.
_ACCOUNT_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:[^\s\"',;)]+")
_ACCOUNT_ID = re.compile(r"(?<![\d-])\d{12}(?![\d-])")


def redact(text: str) -> str:
    """``text`` without account IDs or account-scoped ARNs (role and principal ARNs included)."""
    return _ACCOUNT_ID.sub("<account>", _ACCOUNT_ARN.sub("<arn>", text))


def from_bedrock_code(code: str, message: str) -> GatewayError:
    """Map a Bedrock exception name (``ThrottlingException`` or ``throttlingException``) to a GatewayError.

    Bedrock's message is passed on with account IDs and ARNs taken out (an AccessDenied names the
    caller's role); the original stays in ``detail`` for the logs.
    """
    mapped = _BEDROCK_CODES.get(code)
    public = redact(message)
    detail = message if public != message else None
    if mapped is None:
        return GatewayError(ErrorCode.INTERNAL, f"unexpected Bedrock error {code}: {public}", detail=detail)
    return GatewayError(mapped, public or code, detail=detail)
