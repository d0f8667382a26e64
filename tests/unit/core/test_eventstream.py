"""AWS event-stream framing: what we write, botocore reads; what Bedrock writes, we read, in any split."""

from __future__ import annotations

import json

import pytest
from bedrock_gateway.core.eventstream import (
    FrameReader,
    FramingError,
    chunk_frame,
    encode_message,
    event_frame,
    exception_frame,
    frames,
)
from botocore.eventstream import EventStreamBuffer


def _botocore_reads(data: bytes):
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_botocore_decodes_our_frames_exactly():
    chunk = b'{"type":"content_block_delta","delta":{"type":"text_delta","text":"h\\u00e9"}}'
    data = chunk_frame(chunk) + event_frame("messageStop", {"stopReason": "end_turn"})
    data += exception_frame("throttlingException", "slow down")
    decoded = _botocore_reads(data)
    assert decoded[0].headers == {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(decoded[0].payload)["bytes"]
    assert decoded[1].headers[":event-type"] == "messageStop"
    assert json.loads(decoded[1].payload) == {"stopReason": "end_turn"}
    assert decoded[2].headers[":exception-type"] == "throttlingException"
    assert decoded[2].headers[":message-type"] == "exception"


def test_frames_round_trip_whatever_the_network_split():
    stream = b"".join(chunk_frame(f'{{"n":{i}}}'.encode()) for i in range(5))
    for size in (1, 7, 64, len(stream)):
        reader, seen = FrameReader(), []
        for start in range(0, len(stream), size):
            seen += reader.feed(stream[start : start + size])
        assert [json.loads(frame.chunk()) for frame in seen] == [{"n": i} for i in range(5)]
        assert b"".join(frame.raw for frame in seen) == stream  # forwarded byte for byte
        assert reader.pending == 0


def test_frames_are_grouped_as_the_network_delivered_them():
    one, two, three = (chunk_frame(b"{}") for _ in range(3))
    batches = list(frames(iter([one + two[:5], two[5:] + three])))
    assert [len(batch) for batch in batches] == [1, 2]


def test_a_corrupt_frame_is_refused():
    frame = bytearray(chunk_frame(b'{"a":1}'))
    frame[-10] ^= 0xFF
    with pytest.raises(FramingError, match="message CRC"):
        FrameReader().feed(bytes(frame))
    frame = bytearray(chunk_frame(b'{"a":1}'))
    frame[2] ^= 0xFF
    with pytest.raises(FramingError, match="prelude CRC"):
        FrameReader().feed(bytes(frame))


def test_a_stream_cut_inside_a_frame_is_an_error():
    data = chunk_frame(b"{}")
    with pytest.raises(FramingError, match="ended inside a frame"):
        list(frames(iter([data, data[:20]])))


def test_only_string_headers_are_accepted():
    frame = bytearray(encode_message({":event-type": "chunk"}, b"{}"))
    frame[12 + 1 + len(":event-type")] = 6  # the header's type byte: 6 is a byte array
    from bedrock_gateway.core import eventstream

    with pytest.raises(FramingError, match="type 6"):
        eventstream._decode_headers(bytes(frame[12 : 12 + 3 + len(":event-type") + 2 + len("chunk")]))
