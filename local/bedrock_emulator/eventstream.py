"""AWS event-stream encoder (``application/vnd.amazon.eventstream``).

Hand-written because botocore only *decodes* event streams
(``botocore.eventstream.EventStreamBuffer``); the emulator has to produce them.

Wire format of one message (all integers big-endian)::

    total_length  uint32   whole message, including both CRCs
    headers_length uint32
    prelude_crc   uint32   CRC32 of the 8 bytes above
    headers       headers_length bytes
    payload       total_length - headers_length - 16 bytes
    message_crc   uint32   CRC32 of everything before it

Each header is ``name_len uint8, name, type uint8, value``; the emulator only
needs type 7 (string: ``value_len uint16, utf-8 bytes``).
"""

from __future__ import annotations

import base64
import json
import struct
import zlib

_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def encode_headers(headers: dict[str, str]) -> bytes:
    """Encode string-typed event-stream headers, in the given order."""
    out = bytearray()
    for name, value in headers.items():
        raw_name = name.encode("utf-8")
        raw_value = value.encode("utf-8")
        out += struct.pack(">B", len(raw_name)) + raw_name
        out += struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """Frame one event-stream message with its prelude and both CRC32s."""
    raw_headers = encode_headers(headers)
    total = _PRELUDE.size + _CRC.size + len(raw_headers) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total, len(raw_headers))
    head = prelude + _CRC.pack(zlib.crc32(prelude)) + raw_headers + payload
    return head + _CRC.pack(zlib.crc32(head))


_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def chunk_event(model_chunk: dict) -> bytes:
    """A ``chunk`` event: payload ``{"bytes": base64(model chunk JSON), "p": padding}``.

    Real Bedrock pads each payload with a ``"p"`` string of varying length so that message sizes
    do not give away token lengths; clients ignore it.
    """
    data = json.dumps(model_chunk, separators=(",", ":")).encode("utf-8")
    encoded = base64.b64encode(data).decode("ascii")
    padding = _PADDING[: 1 + len(encoded) % len(_PADDING)]
    payload = json.dumps({"bytes": encoded, "p": padding}, separators=(",", ":")).encode("utf-8")
    return encode_message(
        {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"},
        payload,
    )


def exception_event(exception_type: str, body: dict) -> bytes:
    """A modeled exception of the response-stream union, e.g. ``throttlingException``.

    botocore raises ``EventStreamError`` whose code is ``exception_type``.
    """
    return encode_message(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps(body).encode("utf-8"),
    )


def error_event(code: str, message: str) -> bytes:
    """An unmodeled error message (``:message-type error``), for errors outside the stream union."""
    return encode_message(
        {":error-code": code, ":error-message": message, ":message-type": "error"},
        b"",
    )


def converse_event(event_type: str, payload: dict) -> bytes:
    """A ConverseStream event (``messageStart``, ``contentBlockDelta``, ``metadata``, ...).

    The payload is the event's JSON itself (no base64 ``bytes`` wrapper), padded like ``chunk`` events.
    """
    data = json.dumps(payload, separators=(",", ":"))
    padding = _PADDING[: 1 + len(data) % len(_PADDING)]
    body = json.dumps({**payload, "p": padding}, separators=(",", ":")).encode("utf-8")
    return encode_message(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
        body,
    )
