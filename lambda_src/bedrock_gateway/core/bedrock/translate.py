"""botocore's exceptions in the shared taxonomy."""

from __future__ import annotations

from bedrock_gateway.core.errors import ErrorCode, GatewayError, from_bedrock_code


def translate(exc: BaseException) -> GatewayError:
    """Map any boto3/botocore exception to a :class:`GatewayError`."""
    if isinstance(exc, GatewayError):
        return exc
    from botocore import exceptions as bex

    if isinstance(exc, bex.ClientError):  # EventStreamError (mid-stream) is one too
        error = exc.response.get("Error", {})
        translated = from_bedrock_code(error.get("Code", ""), error.get("Message", ""))
        if (
            translated.code is ErrorCode.INTERNAL
        ):  # an unmodeled code: its HTTP status says if it is worth a retry
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status == 429:
                return GatewayError(ErrorCode.THROTTLING, translated.message)
            if status >= 500:
                return GatewayError(ErrorCode.INTERNAL_SERVER, translated.message)
        return translated
    if isinstance(exc, bex.ReadTimeoutError):
        return GatewayError(ErrorCode.MODEL_TIMEOUT, "Bedrock did not answer in time")
    if isinstance(exc, (bex.ConnectionError, bex.HTTPClientError, bex.IncompleteReadError)):
        # refused, reset, TLS or proxy failures, a body cut short: the network, not the request
        return GatewayError(ErrorCode.BEDROCK_UNREACHABLE, "lost the connection to Bedrock")
    if isinstance(exc, bex.NoCredentialsError):
        return GatewayError(ErrorCode.INTERNAL, "no AWS credentials available to call Bedrock")
    return GatewayError(ErrorCode.INTERNAL, "unexpected error calling Bedrock")
