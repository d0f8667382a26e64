import pytest
from bedrock_gateway.core.errors import ErrorCode, GatewayError, from_bedrock_code

# SPEC's error table for Bedrock's exceptions: status, whether Retry-After is sent, transient for SQS.
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
        assert (err.status, "Retry-After" in err.headers(), err.transient) == (status, retry_after, transient)
        assert err.code.value == code


def test_unknown_bedrock_code_is_internal():
    err = from_bedrock_code("SomethingNew", "x")
    assert err.status == 500 and err.code is ErrorCode.INTERNAL


def test_error_body_shape():
    err = GatewayError(ErrorCode.TARGET_NOT_FOUND, "unknown target 'x'")
    assert err.to_dict("req-1") == {
        "error": {"code": "TargetNotFound", "message": "unknown target 'x'", "requestId": "req-1"}
    }
    assert GatewayError(ErrorCode.PAYLOAD_TOO_LARGE, "big").status == 413
    assert GatewayError(ErrorCode.RAW_MODEL_ID_FORBIDDEN, "raw").status == 403
