"""An offline, wire-accurate fake of Amazon Bedrock that real boto3 talks to unchanged.

One HTTP server answers the ``bedrock-runtime`` API (``InvokeModel``,
``InvokeModelWithResponseStream``, ``Converse``, ``ConverseStream``, ``CountTokens``,
``ApplyGuardrail``), the read side of the ``bedrock`` control plane, and its own control endpoint
under ``/_emulator``. Bedrock's facts (models, lifecycle, limits, system profiles) come from the
catalog of record, ``bedrock_gateway.core.catalog``::

    from bedrock_emulator import Emulator, emulator_env
    with Emulator() as emu:                      # port 0 = a free port
        emu.configure(model="us.anthropic.claude-haiku-4-5-20251001-v1:0", ttft_ms=200, chunk_delay_ms=20)
        os.environ.update(emulator_env(emu.url))  # boto3 now talks to the emulator

Control endpoint (JSON):

- ``POST /_emulator/config`` ``{"model": "<URL modelId, resolved model ID or *>", <settings>}``;
  settings: ``ttft_ms``, ``chunk_delay_ms``, ``output_tokens``, ``tokens_per_chunk``,
  ``throttle_rate`` (+ ``seed``), ``throttle_every``, ``error`` =
  ``{"type": "<modeled error>", "when": "before"|"after_chunks", "after_chunks": N, "rate": p,
  "message": "..."}``, ``reset_rate`` / ``truncate_rate`` (the model produces its whole answer,
  counted as succeeded, but the connection is reset, or closed, halfway through sending it). A
  ``null`` value removes that setting. Same as ``Emulator.configure``.
- ``GET /_emulator/config``, ``POST /_emulator/reset``, ``GET /_emulator/health``.
- ``GET /_emulator/counters``: ``{"calls", "succeeded", "operations": {op: n},
  "models": {url modelId: {"calls", "succeeded"}}, "resolved_models": {model ID: {...}},
  "bodies": {sha256 of the raw body: {"calls", "succeeded", "reset"?, "truncated"?}},
  "errors": {type: n}, "control_plane": {op: n}}``. ``calls`` counts every attempt, ``succeeded``
  every invocation that produced a whole model response (delivered or not), ``reset`` and
  ``truncated`` (present once they happen) the answers broken on the wire.
"""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

from .catalog import Catalog
from .faults import State
from .server import App, _Server

__all__ = ["Emulator", "emulator_env"]


def emulator_env(url: str, region: str = "us-east-1") -> dict[str, str]:
    """Environment variables that point boto3 (and the AWS CLI/SDKs) at the emulator."""
    return {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url,
        "AWS_ENDPOINT_URL_BEDROCK": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
    }


class Emulator:
    """The Bedrock emulator, served from a background thread.

    ``region`` is the default when a request carries no SigV4 credential scope; ``account`` owns
    the resources of ``account.json`` (or ``catalog_path``): application profiles, provisioned
    throughputs, custom/imported models, guardrails. Model lifecycle (Active/Legacy/EOL) follows the
    catalog of record's dates as of ``lifecycle_date`` (default: today); see ``set_lifecycle_date``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        account: str = "123456789012",
        catalog_path: str | Path | None = None,
        verbose: bool = False,
        lifecycle_date: date | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.region = region
        self.account = account
        self.catalog = Catalog.load(region, account, catalog_path, today=lifecycle_date)
        self.state = State()
        self._verbose = verbose
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` once started."""
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Emulator:
        """Start listening (non-blocking); returns ``self``."""
        if self._server is None:
            app = App(self.catalog, self.state, self.region, self.account)
            self._server = _Server((self.host, self.port), app, verbose=self._verbose)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="bedrock-emulator",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the CLI's mode)."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving and close every kept-alive connection."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._server = None
            self._thread = None

    def set_lifecycle_date(self, day: date | None) -> None:
        """Judge model lifecycle as of ``day`` (None: the real date), e.g. to call a model before its EOL."""
        self.catalog.today = day

    def configure(self, model: str = "*", **settings) -> dict:
        """Set latency/fault settings for ``model`` (see the module docstring); returns them."""
        return self.state.configure(model, **settings)

    def reset(self) -> None:
        """Clear every fault/latency setting and zero the counters."""
        self.state.reset()

    def counters(self) -> dict:
        """The same snapshot as ``GET /_emulator/counters``."""
        return self.state.counters()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
