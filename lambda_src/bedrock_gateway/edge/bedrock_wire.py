"""The Bedrock-compatible routes' error shape: what Bedrock itself answers, so SDKs raise their own
modeled exceptions (``ThrottlingException``, ``ValidationException``...).

Before the first byte an error is an HTTP answer: Bedrock's status for the exception, its type in
``x-amzn-ErrorType`` and ``{"message": ...}``. Mid-stream it is an event-stream exception frame, which
SDKs raise from their event iterator.
"""

from __future__ import annotations

import json

from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.eventstream import exception_frame

#: Bedrock Runtime's modeled exceptions and their HTTP statuses (botocore's bedrock-runtime model).
STATUS = {
    "ValidationException": 400,
    "ServiceQuotaExceededException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ModelTimeoutException": 408,
    "ModelErrorException": 424,
    "ModelStreamErrorException": 424,
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
    "UnknownOperationException": 404,
}
#: The gateway's own errors as the Bedrock exception a caller of Bedrock would get for the same mistake.
_AS_BEDROCK = {
    ErrorCode.INVALID_REQUEST: "ValidationException",
    ErrorCode.PAYLOAD_TOO_LARGE: "ValidationException",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "ValidationException",
    ErrorCode.NOT_ACCEPTABLE: "ValidationException",
    ErrorCode.TARGET_NOT_FOUND: "ValidationException",  # Bedrock: "The provided model identifier is invalid."
    ErrorCode.RAW_MODEL_ID_FORBIDDEN: "AccessDeniedException",
    ErrorCode.TARGET_NOT_ALLOWED: "AccessDeniedException",
    ErrorCode.CONFLICT: "ValidationException",
    ErrorCode.NOT_FOUND: "UnknownOperationException",
    ErrorCode.METHOD_NOT_ALLOWED: "UnknownOperationException",
    ErrorCode.INTERNAL: "InternalServerException",
    ErrorCode.BEDROCK_UNREACHABLE: "ServiceUnavailableException",
}
#: The exceptions a response stream may carry (InvokeModelWithResponseStream's and ConverseStream's unions).
_STREAM_EXCEPTIONS = {
    "InternalServerException",
    "ModelStreamErrorException",
    "ValidationException",
    "ThrottlingException",
    "ModelTimeoutException",
    "ServiceUnavailableException",
}


def answer_headers(bedrock_headers: dict[str, str]) -> dict[str, str]:
    """Bedrock's ``X-Amzn-Bedrock-*`` answer headers (token counts, latency, service tier...), as sent."""
    return {_canonical(name): value for name, value in bedrock_headers.items()}


def _canonical(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def exception_type(error: GatewayError) -> str:
    """The Bedrock exception name for ``error``."""
    return _AS_BEDROCK.get(error.code, error.code.value)


def error_response(error: GatewayError, request_id: str | None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of Bedrock's error answer for ``error``."""
    name = exception_type(error)
    headers = {
        "Content-Type": "application/json",
        "x-amzn-ErrorType": f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/",
    }
    if request_id:
        headers["x-amzn-RequestId"] = request_id
    return STATUS.get(name, 500), headers, json.dumps({"message": error.message}).encode()


def stream_exception(error: GatewayError) -> bytes:
    """The exception frame for an error after the first byte of a Bedrock-compatible stream."""
    name = exception_type(error)
    if name not in _STREAM_EXCEPTIONS:
        name = "ServiceUnavailableException" if error.retryable else "InternalServerException"
    return exception_frame(name[0].lower() + name[1:], error.message)
