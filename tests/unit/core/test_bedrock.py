"""Error translation: every botocore failure lands in the shared taxonomy with the right transience."""

import pytest
from bedrock_gateway.core.bedrock import translate
from bedrock_gateway.core.errors import ErrorCode
from botocore import exceptions as bex


def client_error(code: str, status: int) -> bex.ClientError:
    return bex.ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "InvokeModel",
    )


@pytest.mark.parametrize(
    "exc,code,transient",
    [
        (client_error("ThrottlingException", 429), ErrorCode.THROTTLING, True),
        (client_error("ValidationException", 400), ErrorCode.VALIDATION, False),
        (client_error("SomethingNew", 503), ErrorCode.INTERNAL_SERVER, True),
        (client_error("SlowDownNew", 429), ErrorCode.THROTTLING, True),
        (client_error("OddNew", 400), ErrorCode.INTERNAL, False),
        (bex.ReadTimeoutError(endpoint_url="u"), ErrorCode.MODEL_TIMEOUT, True),
        (bex.EndpointConnectionError(endpoint_url="u"), ErrorCode.BEDROCK_UNREACHABLE, True),
        (bex.ConnectionClosedError(endpoint_url="u"), ErrorCode.BEDROCK_UNREACHABLE, True),
        (bex.ResponseStreamingError(error="reset"), ErrorCode.BEDROCK_UNREACHABLE, True),
        (bex.SSLError(endpoint_url="u", error="x"), ErrorCode.BEDROCK_UNREACHABLE, True),
        (bex.ProxyConnectionError(proxy_url="p", error="x"), ErrorCode.BEDROCK_UNREACHABLE, True),
        (bex.IncompleteReadError(actual_bytes=1, expected_bytes=2), ErrorCode.BEDROCK_UNREACHABLE, True),
        (bex.NoCredentialsError(), ErrorCode.INTERNAL, False),
        (RuntimeError("x"), ErrorCode.INTERNAL, False),
    ],
)
def test_translate(exc, code, transient):
    error = translate(exc)
    assert (error.code, error.retryable) == (code, transient)


def test_mid_stream_exception_members_map_like_their_shapes():
    exc = bex.EventStreamError(
        {"Error": {"Code": "modelStreamErrorException", "Message": "m"}}, "InvokeModelWithResponseStream"
    )
    assert translate(exc).code is ErrorCode.MODEL_STREAM_ERROR
