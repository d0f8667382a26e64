import pytest
from bedrock_gateway.core.errors import ErrorCode, GatewayError, from_bedrock_code
from bedrock_gateway.edge.errors import error_document, error_headers, status_of

# The documented error table for Bedrock's exceptions: status, whether Retry-After is sent, retryable.
BEDROCK_TABLE = [
    ("ValidationException", 400, False, False),
    ("ThrottlingException", 429, True, True),
    ("ServiceQuotaExceededException", 429, True, True),
    ("ModelErrorException", 502, False, False),
    ("AccessDeniedException", 502, False, False),
    ("ResourceNotFoundException", 502, False, False),
    ("ModelNotReadyException", 503, True, True),
    ("ServiceUnavailableException", 503, True, True),
    ("ModelTimeoutException", 504, False, True),
    ("InternalServerException", 502, False, True),
]


@pytest.mark.parametrize("code,status,retry_after,transient", BEDROCK_TABLE)
def test_bedrock_exceptions_map_to_spec_statuses(code, status, retry_after, transient):
    for spelling in (code, code[0].lower() + code[1:]):  # sync name and mid-stream member name
        err = from_bedrock_code(spelling, "boom")
        assert (status_of(err), "Retry-After" in error_headers(err), err.retryable) == (
            status,
            retry_after,
            transient,
        )
        assert err.code.value == code


def test_unknown_bedrock_code_is_internal():
    err = from_bedrock_code("SomethingNew", "x")
    assert status_of(err) == 500 and err.code is ErrorCode.INTERNAL


def test_error_body_shape():
    err = GatewayError(ErrorCode.TARGET_NOT_FOUND, "unknown target 'x'")
    assert error_document(err, "req-1") == {
        "error": {"code": "TargetNotFound", "message": "unknown target 'x'", "requestId": "req-1"}
    }
    assert status_of(GatewayError(ErrorCode.PAYLOAD_TOO_LARGE, "big")) == 413
    assert status_of(GatewayError(ErrorCode.RAW_MODEL_ID_FORBIDDEN, "raw")) == 403
