"""AWS event-stream framing (``application/vnd.amazon.eventstream``), both ways.

Bedrock streams its answers in this framing, and the gateway's Bedrock-compatible routes answer in it.
botocore decodes it (``botocore.eventstream``), but only into parsed events: a gateway that forwards
Bedrock's frames byte for byte, and writes frames of its own, needs the raw frames and an encoder,
which botocore does not offer. So both are here, small and strict (CRCs checked).

Wire format of one message (all integers big-endian)::

    total_length   uint32   the whole message, both CRCs included
    headers_length uint32
    prelude_crc    uint32   CRC32 of the 8 bytes above
    headers        headers_length bytes: name_len uint8, name, type uint8, value
    payload        total_length - headers_length - 16 bytes
    message_crc    uint32   CRC32 of everything before it

Bedrock's headers are all strings (type 7: ``value_len uint16`` and UTF-8 bytes).
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

MEDIA_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")
_MAX_FRAME = 16 * 1024 * 1024  # the framing's own limit


class FramingError(ValueError):
    """Bytes that are not a well-formed event stream (bad length or CRC)."""


def encode_headers(headers: dict[str, str]) -> bytes:
    """String-typed event-stream headers, in the given order."""
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += (
            struct.pack(">B", len(raw_name))
            + raw_name
            + struct.pack(">BH", _STRING, len(raw_value))
            + raw_value
        )
    return bytes(out)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message with its prelude and both CRC32s."""
    raw_headers = encode_headers(headers)
    prelude = _PRELUDE.pack(
        _PRELUDE.size + _CRC.size + len(raw_headers) + len(payload) + _CRC.size, len(raw_headers)
    )
    head = prelude + _CRC.pack(zlib.crc32(prelude)) + raw_headers + payload
    return head + _CRC.pack(zlib.crc32(head))


def chunk_frame(chunk: bytes) -> bytes:
    """An InvokeModelWithResponseStream ``chunk`` event carrying the model's chunk bytes."""
    payload = b'{"bytes":"' + base64.b64encode(chunk) + b'"}'
    return encode_message(
        {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}, payload
    )


def event_frame(event_type: str, payload: dict) -> bytes:
    """A typed event (ConverseStream's ``messageStart``, ``contentBlockDelta``, ...) with its JSON."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, body)


def exception_frame(exception_type: str, message: str) -> bytes:
    """A modeled exception mid-stream (``throttlingException``, ``modelStreamErrorException``...):
    SDKs raise it from their event iterator."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, json.dumps({"message": message}).encode())


@dataclass(frozen=True)
class Frame:
    """One decoded message: its bytes as they came, its headers and its payload."""

    raw: bytes
    headers: dict[str, str]
    payload: bytes

    @property
    def message_type(self) -> str:
        return self.headers.get(":message-type", "")

    @property
    def event_type(self) -> str:
        """The event (``chunk``, ``messageStart``...) or exception (``throttlingException``...) it carries."""
        return self.headers.get(":event-type") or self.headers.get(":exception-type") or ""

    def chunk(self) -> bytes:
        """The model's bytes of a ``chunk`` event."""
        return base64.b64decode(json.loads(self.payload)["bytes"])

    def json(self) -> dict:
        return json.loads(self.payload)


class FrameReader:
    """Feed bytes as they arrive; take the whole frames they complete."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= _PRELUDE.size + _CRC.size:
            total, headers_length = _PRELUDE.unpack_from(self._buffer)
            if zlib.crc32(self._buffer[:8]) != _CRC.unpack_from(self._buffer, 8)[0]:
                raise FramingError("event-stream prelude CRC mismatch")
            if not 16 + headers_length <= total <= _MAX_FRAME:
                raise FramingError(f"event-stream message of {total} bytes")
            if len(self._buffer) < total:
                break
            raw = bytes(self._buffer[:total])
            del self._buffer[:total]
            if zlib.crc32(raw[:-4]) != _CRC.unpack_from(raw, total - 4)[0]:
                raise FramingError("event-stream message CRC mismatch")
            frames.append(
                Frame(raw, _decode_headers(raw[12 : 12 + headers_length]), raw[12 + headers_length : -4])
            )
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still held (a stream that ends with some was cut short)."""
        return len(self._buffer)


def _decode_headers(data: bytes) -> dict[str, str]:
    headers, offset = {}, 0
    while offset < len(data):
        name_length = data[offset]
        name = data[offset + 1 : offset + 1 + name_length].decode()
        offset += 1 + name_length
        kind = data[offset]
        if kind != _STRING:
            raise FramingError(f"event-stream header {name!r} of type {kind}: Bedrock sends strings only")
        (value_length,) = struct.unpack_from(">H", data, offset + 1)
        headers[name] = data[offset + 3 : offset + 3 + value_length].decode()
        offset += 3 + value_length
    return headers


def frames(chunks: Iterator[bytes]) -> Iterator[list[Frame]]:
    """The frames of a byte stream, grouped as the network delivered them (one list per read)."""
    reader = FrameReader()
    for data in chunks:
        found = reader.feed(data)
        if found:
            yield found
    if reader.pending:
        raise FramingError(f"the stream ended inside a frame ({reader.pending} bytes)")
