"""Every modeled error reaches boto3 as its own exception class, sync, before the stream and mid-stream."""

from __future__ import annotations

import pytest
from botocore.exceptions import EventStreamError
from emulator_helpers import MODEL, nova_body

MODELED = {
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ModelTimeoutException": 408,
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "ServiceQuotaExceededException": 400,
    "ModelErrorException": 424,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
}

STREAM_MEMBERS = {
    "ThrottlingException": "throttlingException",
    "ModelStreamErrorException": "modelStreamErrorException",
    "InternalServerException": "internalServerException",
    "ValidationException": "validationException",
    "ModelTimeoutException": "modelTimeoutException",
    "ServiceUnavailableException": "serviceUnavailableException",
}


@pytest.mark.parametrize(("error", "status"), MODELED.items())
def test_sync_error(runtime, emulator, error, status):
    emulator.configure(model=MODEL, error={"type": error})
    with pytest.raises(getattr(runtime.exceptions, error)) as info:
        runtime.invoke_model(modelId=MODEL, body=nova_body())
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert response["Error"]["Code"] == error
    assert response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"].startswith(error + ":")
    if error == "ModelErrorException":
        assert response["originalStatusCode"] == 500
        assert response["resourceName"] == "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0"
    counters = emulator.counters()
    assert counters["models"][MODEL] == {"calls": 1, "succeeded": 0}
    assert counters["errors"] == {error: 1}


@pytest.mark.parametrize("error", [*MODELED, "ModelStreamErrorException"])
def test_stream_error_before_first_byte(runtime, emulator, error):
    emulator.configure(model=MODEL, error={"type": error, "when": "before", "message": "injected"})
    with pytest.raises(getattr(runtime.exceptions, error)) as info:
        runtime.invoke_model_with_response_stream(modelId=MODEL, body=nova_body())
    assert info.value.response["Error"]["Message"] == "injected"


@pytest.mark.parametrize(("error", "member"), STREAM_MEMBERS.items())
def test_stream_error_mid_stream(runtime, emulator, error, member):
    emulator.configure(model=MODEL, error={"type": error, "when": "after_chunks", "after_chunks": 3})
    response = runtime.invoke_model_with_response_stream(modelId=MODEL, body=nova_body())
    received = []
    with pytest.raises(EventStreamError) as info:
        for event in response["body"]:
            received.append(event["chunk"])
    assert len(received) == 3
    assert info.value.response["Error"]["Code"] == member
    assert info.value.response["Error"]["Message"]
    assert emulator.counters()["models"][MODEL] == {"calls": 1, "succeeded": 0}


def test_unmodeled_error_mid_stream(runtime, emulator):
    emulator.configure(model=MODEL, error={"type": "AccessDeniedException", "when": "after_chunks"})
    response = runtime.invoke_model_with_response_stream(modelId=MODEL, body=nova_body())
    with pytest.raises(EventStreamError) as info:
        list(response["body"])
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"


def test_mid_stream_errors_leave_sync_calls_alone(runtime, emulator):
    emulator.configure(model=MODEL, error={"type": "ModelStreamErrorException", "when": "after_chunks"})
    runtime.invoke_model(modelId=MODEL, body=nova_body())


def test_error_rate_is_seeded(runtime, emulator):
    def outcomes():
        emulator.configure(model="*", seed=7, error={"type": "InternalServerException", "rate": 0.5})
        result = []
        for _ in range(20):
            try:
                runtime.invoke_model(modelId=MODEL, body=nova_body())
                result.append("ok")
            except runtime.exceptions.InternalServerException:
                result.append("err")
        return result

    first = outcomes()
    assert outcomes() == first
    assert 0 < first.count("err") < 20
