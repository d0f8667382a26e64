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


def test_bedrock_messages_reach_callers_without_account_ids_or_role_arns():
    message = (
        "User: arn:aws:sts::123456789012:assumed-role/gateway-SyncApi-1X2Y3Z/gateway-fn is not authorized to "
        "perform: bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1:123456789012:application-inference-"
        "profile/a1b2c3d4e5f6 because no identity-based policy allows it (account 123456789012)"
    )
    err = from_bedrock_code("AccessDeniedException", message)
    assert "123456789012" not in err.message and "assumed-role" not in err.message
    assert err.message.startswith(
        "User: <arn> is not authorized to perform: bedrock:InvokeModel on resource: <arn>"
    )
    assert err.detail == message  # the original, for the logs
    public_model = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-6"
    assert from_bedrock_code("ValidationException", f"bad input for {public_model}").message.endswith(
        public_model
    )
