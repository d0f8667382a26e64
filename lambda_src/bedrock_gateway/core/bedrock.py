"""The Bedrock client: one boto3 client per container and purpose, calls, and error translation.

Endpoints follow boto3's standard variables (``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``,
``AWS_ENDPOINT_URL_BEDROCK``), so the local emulator needs no code path of its own.
"""

from __future__ import annotations

import functools
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import ErrorCode, GatewayError, from_bedrock_code
from .model_ids import ModelKind, ModelRef
from .targets import Target

# Retry and timeout budgets by caller. The worker lets SQS do the retrying (so a throttled call is
# not retried twice over); the stream path may wait long between events but never retries mid-stream.
# The sync path retries in :func:`invoke` itself, because botocore cannot bound the total time and
# API Gateway gives up at 29 s: its client makes one attempt per call.
_PURPOSES: dict[str, dict[str, Any]] = {
    "sync": {
        "retries": {"mode": "standard", "total_max_attempts": 1},
        "connect_timeout": 2,
        "read_timeout": 25,
    },
    "stream": {
        "retries": {"mode": "adaptive", "total_max_attempts": 3},
        "connect_timeout": 2,
        "read_timeout": 120,
    },
    "worker": {
        "retries": {"mode": "standard", "total_max_attempts": 1},
        "connect_timeout": 2,
        "read_timeout": 300,
    },
    "control": {
        "retries": {"mode": "standard", "total_max_attempts": 2},
        "connect_timeout": 2,
        "read_timeout": 5,
    },
}
SYNC_ATTEMPTS = 3
_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()
# One session for every client made here (created under _clients_lock): clients of one session share
# its loaded endpoint and model data, so a container's second client (the stream path's control-plane
# lookup, say) is built in about half the time.
_session: Any = None


def _attempts_cap() -> int | None:
    """``BEDROCK_MAX_ATTEMPTS`` caps every caller's attempts (tests, tight latency budgets)."""
    cap = os.environ.get("BEDROCK_MAX_ATTEMPTS")
    return max(1, int(cap)) if cap else None


def _config_for(purpose: str) -> dict[str, Any]:
    settings = dict(_PURPOSES[purpose])
    cap = _attempts_cap()
    if cap:
        retries = dict(settings["retries"])
        retries["total_max_attempts"] = min(retries["total_max_attempts"], cap)
        settings["retries"] = retries
    return settings


def client(service: str = "bedrock-runtime", purpose: str = "sync"):
    """The container's cached boto3 client for ``service`` with the retry budget of ``purpose``."""
    global _session
    key = (service, purpose)
    cached = _clients.get(key)
    if cached is not None:
        return cached
    with _clients_lock:
        if key not in _clients:
            import boto3  # imported here so modules that never call Bedrock do not pay for it
            from botocore.config import Config

            if _session is None:
                _session = boto3.session.Session()
            config = Config(tcp_keepalive=True, max_pool_connections=32, **_config_for(purpose))
            _clients[key] = _session.client(service, config=config)
    return _clients[key]


def reset_clients() -> None:
    """Forget cached clients and capabilities (tests that move the endpoint use this)."""
    global _session, _lookups_paused_until
    with _clients_lock:
        _clients.clear()
        _session = None
    _lookups_paused_until = 0.0
    for cached in (_foundation_model_streams, _profile_model_id):
        cached.cache_clear()


def _request(target: Target, body: bytes) -> dict[str, Any]:
    """InvokeModel / InvokeModelWithResponseStream parameters (they take the same ones)."""
    return {
        "modelId": target.model_id,
        "body": body,
        "contentType": "application/json",
        "accept": "application/json",
        **target.invoke_params(),
    }


@dataclass
class InvokeResult:
    """A finished InvokeModel call."""

    body: bytes
    content_type: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int | None  # Bedrock's own X-Amzn-Bedrock-Invocation-Latency
    model_id: str
    headers: dict[str, str] = field(default_factory=dict)


def invoke(target: Target, body: bytes, purpose: str = "sync", deadline: float | None = None) -> InvokeResult:
    """Call InvokeModel for ``target`` with the already-prepared ``body``.

    The sync path retries transient errors that came back fast (throttling, not ready, 5xx), with
    jittered backoff, and only while a whole new attempt still fits before ``deadline`` (a
    ``time.monotonic()`` value): a caller is never held past API Gateway's timeout. A read timeout is
    not retried: the model was already given all the time there was.
    """
    attempts = SYNC_ATTEMPTS if purpose == "sync" else 1
    attempts = min(attempts, _attempts_cap() or attempts)
    read_timeout = _PURPOSES[purpose]["read_timeout"]
    for attempt in range(1, attempts + 1):
        try:
            return _invoke_once(target, body, purpose)
        except GatewayError as exc:
            delay = min(2.0, 0.25 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            time_left = float("inf") if deadline is None else deadline - time.monotonic()
            if (
                not exc.transient
                or exc.code is ErrorCode.MODEL_TIMEOUT
                or attempt == attempts
                or time_left < delay + read_timeout
            ):
                raise
            time.sleep(delay)
    raise AssertionError("unreachable")


def _invoke_once(target: Target, body: bytes, purpose: str) -> InvokeResult:
    runtime = client("bedrock-runtime", purpose)
    try:
        response = runtime.invoke_model(**_request(target, body))
        payload = response["body"].read()
    except Exception as exc:
        raise translate(exc) from exc
    headers = response["ResponseMetadata"].get("HTTPHeaders", {})
    return InvokeResult(
        body=payload,
        content_type=response.get("contentType") or "application/json",
        input_tokens=_int_header(headers, "x-amzn-bedrock-input-token-count"),
        output_tokens=_int_header(headers, "x-amzn-bedrock-output-token-count"),
        latency_ms=_int_header(headers, "x-amzn-bedrock-invocation-latency"),
        model_id=target.model_id,
        headers=headers,
    )


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
            "timeToFirstChunkMs": None
            if self.time_to_first_chunk_ms is None
            else round(self.time_to_first_chunk_ms, 1),
            "totalMs": None if self.total_ms is None else round(self.total_ms, 1),
        }


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
                self._note_metrics(payload)
                yield payload
        except GatewayError:
            raise
        except Exception as exc:
            raise translate(exc) from exc
        finally:
            self.metrics.total_ms = (time.perf_counter() - self._started) * 1000

    def _note_metrics(self, payload: bytes) -> None:
        # Only the last chunk carries the invocation metrics; a cheap byte check avoids parsing every chunk.
        if b"amazon-bedrock-invocationMetrics" not in payload:
            return
        import json

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


def open_stream(target: Target, body: bytes) -> ChunkStream:
    """Call InvokeModelWithResponseStream; errors before the first event are raised here."""
    runtime = client("bedrock-runtime", "stream")
    started = time.perf_counter()
    try:
        response = runtime.invoke_model_with_response_stream(**_request(target, body))
    except Exception as exc:
        raise translate(exc) from exc
    return ChunkStream(response, started)


@functools.lru_cache(maxsize=256)
def _foundation_model_streams(model_id: str) -> bool:
    details = client("bedrock", "control").get_foundation_model(modelIdentifier=model_id)["modelDetails"]
    return bool(details.get("responseStreamingSupported", False))


@functools.lru_cache(maxsize=256)
def _profile_model_id(profile: str) -> str | None:
    models = (
        client("bedrock", "control")
        .get_inference_profile(inferenceProfileIdentifier=profile)
        .get("models", [])
    )
    return models[0]["modelArn"].rsplit("/", 1)[1] if models else None


def streaming_supported(target: Target) -> bool | None:
    """Whether ``target`` can stream: config first, else GetFoundationModel (cached per container).

    Returns None when it cannot be known (e.g. provisioned throughput of a custom model, or the
    control plane is unreachable): the stream path then tries streaming and falls back.
    """
    if target.streaming is not None:
        return target.streaming
    return _looked_up_streaming(target.ref, target.models)


_lookups_paused_until = 0.0  # after a failed lookup, skip them for a while (a listing must stay fast)
LOOKUP_PAUSE_SECONDS = 60


def _looked_up_streaming(ref: ModelRef, models: tuple[str, ...]) -> bool | None:
    global _lookups_paused_until
    if time.monotonic() < _lookups_paused_until:
        return None
    try:
        model_id = ref.foundation_model_id
        if model_id is None and ref.kind is ModelKind.APPLICATION_INFERENCE_PROFILE:
            model_id = _profile_model_id(ref.raw)
        if model_id is None and models:
            model_id = models[0].rsplit("/", 1)[1]
        return _foundation_model_streams(model_id) if model_id else None
    except Exception:  # noqa: BLE001 - best effort; failures are not cached, the pause bounds their cost
        _lookups_paused_until = time.monotonic() + LOOKUP_PAUSE_SECONDS
        return None


def translate(exc: BaseException) -> GatewayError:
    """Map any boto3/botocore exception to the shared taxonomy."""
    if isinstance(exc, GatewayError):
        return exc
    from botocore import exceptions as bex

    if isinstance(exc, bex.ClientError):  # EventStreamError (mid-stream) is one too
        error = exc.response.get("Error", {})
        translated = from_bedrock_code(error.get("Code", ""), error.get("Message", ""))
        if (
            translated.code is ErrorCode.INTERNAL
        ):  # an unmodeled code: its HTTP status says if it is worth a retry
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status == 429:
                return GatewayError(ErrorCode.THROTTLING, translated.message)
            if status >= 500:
                return GatewayError(ErrorCode.INTERNAL_SERVER, translated.message)
        return translated
    if isinstance(exc, bex.ReadTimeoutError):
        return GatewayError(ErrorCode.MODEL_TIMEOUT, "Bedrock did not answer in time")
    if isinstance(exc, (bex.ConnectionError, bex.HTTPClientError, bex.IncompleteReadError)):
        # refused, reset, TLS or proxy failures, a body cut short: the network, not the request
        return GatewayError(ErrorCode.BEDROCK_UNREACHABLE, "lost the connection to Bedrock")
    if isinstance(exc, bex.NoCredentialsError):
        return GatewayError(ErrorCode.INTERNAL, "no AWS credentials available to call Bedrock")
    return GatewayError(ErrorCode.INTERNAL, "unexpected error calling Bedrock")


def _int_header(headers: dict[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
