"""InvokeModelWithResponseStream: open a stream, iterate its chunks, keep its metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bedrock_gateway.core.bedrock.invoke import request_params, with_retries
from bedrock_gateway.core.bedrock.translate import translate
from bedrock_gateway.core.clients import CallBudget, client
from bedrock_gateway.core.errors import GatewayError
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


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class ChunkStream:
    """An open InvokeModelWithResponseStream: iterate for each chunk's raw JSON bytes.

    Errors before the stream opens are raised by :func:`open_stream`; errors while iterating are
    raised as :class:`GatewayError`. ``metrics`` is filled in as chunks arrive. ``close()`` stops
    reading from Bedrock (call it when the client goes away).
    """

    def __init__(self, response: dict[str, Any], started: float):
        self._events = response["body"]
        self._started = started
        self.metrics = StreamMetrics()
        self.content_type = response.get("contentType") or "application/json"

    def __iter__(self) -> Iterator[bytes]:
        try:
            for event in self._events:
                chunk = event.get("chunk")
                if chunk is None:  # modeled exceptions are raised by botocore; anything else is unknown
                    continue
                payload = chunk["bytes"]
                if self.metrics.chunks == 0:
                    self.metrics.time_to_first_chunk_ms = (time.perf_counter() - self._started) * 1000
                self.metrics.chunks += 1
                if _METRICS_KEY in payload:  # only the last chunk carries them: no need to parse the rest
                    self._note_metrics(payload)
                yield payload
        except GatewayError:
            raise
        except Exception as exc:
            raise translate(exc) from exc
        finally:
            self.metrics.total_ms = (time.perf_counter() - self._started) * 1000

    def _note_metrics(self, payload: bytes) -> None:
        try:
            metrics = json.loads(payload).get("amazon-bedrock-invocationMetrics") or {}
        except ValueError:
            return
        self.metrics.input_tokens = metrics.get("inputTokenCount")
        self.metrics.output_tokens = metrics.get("outputTokenCount")
        self.metrics.invocation_latency_ms = metrics.get("invocationLatency")
        self.metrics.first_byte_latency_ms = metrics.get("firstByteLatency")

    def close(self) -> None:
        try:
            self._events.close()
        except Exception:  # noqa: BLE001 - closing a dead connection may fail; nothing to do
            pass


def open_stream(
    target: Target, body: bytes, budget: CallBudget, *, attempts: int = 1, deadline: float | None = None
) -> ChunkStream:
    """Call InvokeModelWithResponseStream; errors before the first event are raised here.

    Retried like a sync call (same backoff, same deadline rule): nothing has reached the caller yet.
    """
    return with_retries(lambda: _open_once(target, body, budget), budget, attempts, deadline)


def _open_once(target: Target, body: bytes, budget: CallBudget) -> ChunkStream:
    runtime = client("bedrock-runtime", budget)
    started = time.perf_counter()
    try:
        response = runtime.invoke_model_with_response_stream(**request_params(target, body))
    except Exception as exc:
        raise translate(exc) from exc
    return ChunkStream(response, started)
