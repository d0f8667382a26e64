"""Bedrock's streaming calls (InvokeModelWithResponseStream, ConverseStream): open, read, measure.

A stream is read as Bedrock's own event-stream frames, grouped as the network delivered them: each
group is handed on at once (never held back for the next), and one thread hop per group instead of
per event keeps the forwarding cost per event small. The frames are Bedrock's bytes: the
Bedrock-compatible routes forward them as they came; the ``/v1`` routes take the chunk out of each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bedrock_gateway.core.bedrock.invoke import json_headers, request_headers, with_retries
from bedrock_gateway.core.bedrock.runtime import RuntimeResponse, runtime_client
from bedrock_gateway.core.clients import CallBudget
from bedrock_gateway.core.errors import ErrorCode, GatewayError, from_bedrock_code
from bedrock_gateway.core.eventstream import MEDIA_TYPE, Frame, FramingError, frames
from bedrock_gateway.core.targets import Target

_METRICS_KEY = b"amazon-bedrock-invocationMetrics"


@dataclass
class StreamMetrics:
    """What a finished stream reports: Bedrock's invocation metrics plus our own timings."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    invocation_latency_ms: int | None = None
    first_byte_latency_ms: int | None = None
    chunks: int = 0
    time_to_first_chunk_ms: float | None = None
    total_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputTokenCount": self.input_tokens,
            "outputTokenCount": self.output_tokens,
            "invocationLatency": self.invocation_latency_ms,
            "firstByteLatency": self.first_byte_latency_ms,
            "chunks": self.chunks,
            "timeToFirstChunkMs": _rounded(self.time_to_first_chunk_ms),
            "totalMs": _rounded(self.total_ms),
        }

    def note_invocation_metrics(self, chunk: bytes) -> None:
        """An InvokeModel stream's closing chunk carries ``amazon-bedrock-invocationMetrics``."""
        if _METRICS_KEY not in chunk:
            return
        try:
            metrics = json.loads(chunk).get("amazon-bedrock-invocationMetrics") or {}
        except ValueError:
            return
        self.input_tokens = metrics.get("inputTokenCount")
        self.output_tokens = metrics.get("outputTokenCount")
        self.invocation_latency_ms = metrics.get("invocationLatency")
        self.first_byte_latency_ms = metrics.get("firstByteLatency")

    def note_converse_metadata(self, event: dict) -> None:
        """A ConverseStream's closing ``metadata`` event carries ``usage`` and ``metrics``."""
        usage, metrics = event.get("usage") or {}, event.get("metrics") or {}
        self.input_tokens = usage.get("inputTokens")
        self.output_tokens = usage.get("outputTokens")
        self.invocation_latency_ms = metrics.get("latencyMs")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def frame_error(frame: Frame) -> GatewayError:
    """The error an exception (or unmodeled error) frame reports."""
    if frame.message_type == "exception":
        try:
            message = str(json.loads(frame.payload or b"{}").get("message", ""))
        except ValueError:
            message = ""
        return from_bedrock_code(frame.event_type, message)
    return GatewayError(
        ErrorCode.INTERNAL_SERVER,
        frame.headers.get(":error-message") or frame.headers.get(":error-code") or "error",
    )


class ResponseStream:
    """An open stream. Iterate :meth:`batches` for its frames; ``metrics`` fills in as they pass."""

    def __init__(self, response: RuntimeResponse, started: float, operation: str):
        self._response = response
        self._started = started
        self.operation = operation
        self.metrics = StreamMetrics()
        self.content_type = response.headers.get("x-amzn-bedrock-content-type") or "application/json"
        #: Bedrock's ``X-Amzn-Bedrock-*`` answer headers (content type, service tier...), lower-case names.
        self.headers = {k: v for k, v in response.headers.items() if k.startswith("x-amzn-bedrock-")}

    def batches(self) -> Iterator[list[Frame]]:
        """The frames, in the groups they arrived in. Exception frames pass like events (the caller
        decides: forward them, or raise :func:`frame_error`); a broken connection raises."""
        converse = self.operation == "converse-stream"
        last_chunk: Frame | None = None
        try:
            for batch in frames(self._response.chunks()):
                for frame in batch:
                    if frame.message_type != "event":
                        continue
                    if self.metrics.chunks == 0:
                        self.metrics.time_to_first_chunk_ms = (time.perf_counter() - self._started) * 1000
                    self.metrics.chunks += 1
                    if converse and frame.event_type == "metadata":
                        self.metrics.note_converse_metadata(frame.json())
                    elif frame.event_type == "chunk":
                        last_chunk = frame
                yield batch
            if last_chunk is not None:  # only the last one carries the invocation metrics
                self.metrics.note_invocation_metrics(last_chunk.chunk())
        except FramingError as exc:
            raise GatewayError(
                ErrorCode.BEDROCK_UNREACHABLE, f"the stream from Bedrock broke off: {exc}"
            ) from exc
        finally:
            self.metrics.total_ms = (time.perf_counter() - self._started) * 1000

    def chunks(self) -> Iterator[bytes]:
        """The model's chunk bytes one by one (exceptions raised); for callers that need no batching."""
        for batch in self.batches():
            for frame in batch:
                if frame.message_type != "event":
                    raise frame_error(frame)
                if frame.event_type == "chunk":
                    yield frame.chunk()

    def close(self) -> None:
        """Stop reading from Bedrock (the client went away)."""
        self._response.close()


def open_stream(
    target: Target,
    body: bytes,
    budget: CallBudget,
    *,
    attempts: int = 1,
    deadline: float | None = None,
    operation: str = "invoke-with-response-stream",
    headers: dict[str, str] | None = None,
) -> ResponseStream:
    """Open InvokeModelWithResponseStream (or ``converse-stream``); errors before the first event are
    raised here. Retried like a sync call (same backoff, same deadline rule): nothing has reached the
    caller yet."""
    if operation == "invoke-with-response-stream":
        call_headers = request_headers(target, headers)
        call_headers.setdefault("x-amzn-bedrock-accept", "application/json")
    else:
        call_headers = json_headers(headers)
    call_headers["accept"] = MEDIA_TYPE
    client = runtime_client(budget)

    def once() -> ResponseStream:
        started = time.perf_counter()
        response = client.post(target.model_id, operation, body, call_headers, stream=True)
        return ResponseStream(response, started, operation)

    return with_retries(once, budget, attempts, deadline)
