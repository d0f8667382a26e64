"""The emulator's event-stream messages (``application/vnd.amazon.eventstream``), as Bedrock sends them.

Framing is the project's own encoder (``bedrock_gateway.core.eventstream``: botocore only *decodes*
event streams); what is Bedrock's is here: padded ``chunk`` and ConverseStream events, modeled
exceptions and unmodeled errors.

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

from bedrock_gateway.core.eventstream import encode_headers, encode_message

__all__ = [
    "chunk_event",
    "converse_event",
    "encode_headers",
    "encode_message",
    "error_event",
    "exception_event",
]

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
