"""How a stream's frames reach the caller: as SSE or NDJSON events (``/v1``), or as Bedrock's own
event-stream frames (``/model/...``).

A writer turns each batch of Bedrock frames into the bytes of one response message, and says when an
exception frame ended the stream. Text-completion callers (a target's ``legacy_completions``) get
every chunk translated back on the way.
"""

from __future__ import annotations

import json
from typing import Any

from bedrock_gateway.core import legacy
from bedrock_gateway.core.bedrock import frame_error
from bedrock_gateway.core.errors import GatewayError
from bedrock_gateway.core.eventstream import MEDIA_TYPE, Frame, chunk_frame
from bedrock_gateway.edge import negotiation
from bedrock_gateway.edge.bedrock_wire import stream_exception
from bedrock_gateway.edge.errors import error_document


class StreamWriter:
    """Frames in, response bytes out. Subclasses say how one event, the end and an error are written."""

    media_type = ""

    def __init__(self) -> None:
        self._translator: legacy.StreamTranslator | None = None
        self._request_id: str | None = None

    def start(self, legacy_completions: bool, request_id: str | None) -> None:
        """Called once the stream is open: translate chunks back to text completions when asked."""
        self._translator = legacy.StreamTranslator() if legacy_completions else None
        self._request_id = request_id

    def frames(self, batch: list[Frame]) -> tuple[bytes, GatewayError | None]:
        """The bytes for ``batch``, and the error that ended the stream in it (already written), if any."""
        out = bytearray()
        for frame in batch:
            try:
                if frame.message_type != "event":
                    error = frame_error(frame)
                    out += self.error(error)
                    return bytes(out), error
                out += self.event(frame)
            except GatewayError as error:  # a chunk the legacy translation cannot express
                out += self.error(error)
                return bytes(out), error
        return bytes(out), None

    def _translated(self, frame: Frame) -> bytes | None:
        """The chunk's bytes, translated to a text completion when the caller sent one (None: skip it)."""
        chunk = frame.chunk()
        return self._translator.translate(chunk) if self._translator else chunk

    def event(self, frame: Frame) -> bytes:
        raise NotImplementedError

    def done(self, summary: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def error(self, error: GatewayError) -> bytes:
        raise NotImplementedError


class EventWriter(StreamWriter):
    """Server-Sent Events (default) or NDJSON (``Accept: application/x-ndjson``).

    InvokeModel streams: ``chunk`` events whose data is the model's chunk, byte for byte. ConverseStream:
    one event per Converse event, named as Bedrock names it (``messageStart``, ``contentBlockDelta``...)
    with its JSON. Then ``done`` with the invocation metrics, or ``error``.
    """

    def __init__(self, accept: str | None, operation: str):
        super().__init__()
        self.ndjson = negotiation.choose(accept) == negotiation.NDJSON
        self.media_type = negotiation.NDJSON if self.ndjson else negotiation.SSE
        self._converse = operation == "converse-stream"

    def event(self, frame: Frame) -> bytes:
        if self._converse:
            return self._event(frame.event_type, frame.payload)
        if frame.event_type != "chunk":
            return b""
        chunk = self._translated(frame)
        return self._event("chunk", chunk) if chunk is not None else b""

    def done(self, summary: dict[str, Any]) -> bytes:
        return self._event("done", json.dumps(summary, separators=(",", ":")).encode())

    def error(self, error: GatewayError) -> bytes:
        document = error_document(error, self._request_id)
        return self._event("error", json.dumps(document, separators=(",", ":")).encode())

    def _event(self, name: str, data: bytes) -> bytes:
        if self.ndjson:
            if b"\n" in data:  # keep one object per line
                data = json.dumps(json.loads(data), separators=(",", ":")).encode()
            return b'{"event":"' + name.encode() + b'","data":' + data + b"}\n"
        lines = data.split(b"\n")
        return (
            b"event: " + name.encode() + b"\n" + b"".join(b"data: " + line + b"\n" for line in lines) + b"\n"
        )


class BedrockWriter(StreamWriter):
    """Bedrock's event-stream frames, forwarded as they came. Exception frames are re-written with
    account IDs and ARNs taken out of their message; translated chunks are framed anew."""

    media_type = MEDIA_TYPE

    def event(self, frame: Frame) -> bytes:
        if self._translator is None or frame.event_type != "chunk":
            return frame.raw
        chunk = self._translated(frame)
        return chunk_frame(chunk) if chunk is not None else b""

    def done(self, summary: dict[str, Any]) -> bytes:
        return b""  # Bedrock's stream simply ends

    def error(self, error: GatewayError) -> bytes:
        return stream_exception(error)
