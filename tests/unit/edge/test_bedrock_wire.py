"""Bedrock's error shape, and the stream writers: what SDK callers and /v1 callers receive."""

from __future__ import annotations

import json

import pytest
from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.eventstream import FrameReader, chunk_frame, event_frame, exception_frame
from bedrock_gateway.edge import bedrock_wire
from bedrock_gateway.edge.stream_writers import BedrockWriter, EventWriter
from botocore.eventstream import EventStreamBuffer


@pytest.mark.parametrize(
    "code,status,name",
    [
        (ErrorCode.INVALID_REQUEST, 400, "ValidationException"),
        (ErrorCode.TARGET_NOT_FOUND, 400, "ValidationException"),
        (ErrorCode.TARGET_NOT_ALLOWED, 403, "AccessDeniedException"),
        (ErrorCode.THROTTLING, 429, "ThrottlingException"),
        (ErrorCode.MODEL_ERROR, 424, "ModelErrorException"),
        (ErrorCode.MODEL_TIMEOUT, 408, "ModelTimeoutException"),
        (ErrorCode.NOT_FOUND, 404, "UnknownOperationException"),
        (ErrorCode.INTERNAL, 500, "InternalServerException"),
        (ErrorCode.BEDROCK_UNREACHABLE, 503, "ServiceUnavailableException"),
    ],
)
def test_every_error_has_bedrocks_status_and_type(code, status, name):
    got_status, headers, body = bedrock_wire.error_response(GatewayError(code, "why"), "rid")
    assert got_status == status
    assert headers["x-amzn-ErrorType"].split(":")[0] == name
    assert json.loads(body) == {"message": "why"}


def test_every_gateway_error_code_maps_to_a_status():
    for code in ErrorCode:
        status, _, _ = bedrock_wire.error_response(GatewayError(code, "x"), None)
        assert 400 <= status < 600


def _frames(*raw: bytes):
    return FrameReader().feed(b"".join(raw))


def test_the_bedrock_writer_forwards_frames_byte_for_byte():
    raw = [chunk_frame(b'{"a":1}'), event_frame("messageStop", {"stopReason": "end_turn"})]
    writer = BedrockWriter()
    writer.start(False, "rid")
    data, error = writer.frames(_frames(*raw))
    assert data == b"".join(raw) and error is None
    assert writer.done({"chunks": 2}) == b""


def test_the_bedrock_writer_redacts_exception_frames_and_stops():
    message = "not authorized: arn:aws:iam::123456789012:role/x"
    writer = BedrockWriter()
    writer.start(False, "rid")
    data, error = writer.frames(_frames(chunk_frame(b"{}"), exception_frame("throttlingException", message)))
    assert error is not None and error.code is ErrorCode.THROTTLING
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    decoded = list(buffer)
    assert decoded[1].headers[":exception-type"] == "throttlingException"
    assert "123456789012" not in decoded[1].payload.decode()


def test_errors_no_stream_can_carry_become_a_modeled_stream_exception():
    frame = bedrock_wire.stream_exception(GatewayError(ErrorCode.TARGET_NOT_ALLOWED, "no"))
    assert FrameReader().feed(frame)[0].headers[":exception-type"] == "internalServerException"
    frame = bedrock_wire.stream_exception(GatewayError(ErrorCode.BEDROCK_UNREACHABLE, "cut"))
    assert FrameReader().feed(frame)[0].headers[":exception-type"] == "serviceUnavailableException"


def test_the_event_writer_names_converse_events_and_frames_ndjson():
    writer = EventWriter("application/x-ndjson", "converse-stream")
    writer.start(False, "rid")
    data, _ = writer.frames(_frames(event_frame("contentBlockDelta", {"delta": {"text": "hi"}})))
    assert json.loads(data) == {"event": "contentBlockDelta", "data": {"delta": {"text": "hi"}}}
    sse = EventWriter(None, "invoke-with-response-stream")
    sse.start(False, "rid")
    data, error = sse.frames(
        _frames(chunk_frame(b'{"x":1}'), exception_frame("modelStreamErrorException", "m"))
    )
    assert data.startswith(b'event: chunk\ndata: {"x":1}\n\nevent: error\n')
    assert error is not None and error.code is ErrorCode.MODEL_STREAM_ERROR
