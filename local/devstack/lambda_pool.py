"""Lambda's execution model, locally: each handler runs in its own processes, one event at a time.

Handlers keep per-invocation state in module globals (Powertools' resolver, logger keys), exactly as
Lambda allows; so, as in Lambda, concurrency comes from more processes, never from threads sharing
one. Processes are started with ``spawn`` and import the handler once (a cold start), then stay warm.
"""

from __future__ import annotations

import importlib
import multiprocessing
import sys
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from devstack.apigw import LambdaContext

_handlers: dict[str, Any] = {}


def load_handler(path: str):
    """Import ``package.module.function`` once per process."""
    handler = _handlers.get(path)
    if handler is None:
        module_name, _, function = path.rpartition(".")
        handler = _handlers[path] = getattr(importlib.import_module(module_name), function)
    return handler


def run_handler(path: str, event: dict[str, Any], function_name: str, timeout_ms: int) -> dict[str, Any]:
    """Invoke a handler the way the Lambda runtime does; an exception becomes an error payload."""
    try:
        result = load_handler(path)(event, LambdaContext(function_name=function_name, timeout_ms=timeout_ms))
        return {"ok": True, "result": result}
    except Exception as exc:  # noqa: BLE001 - Lambda reports any handler exception as a function error
        traceback.print_exc()
        return {"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc)}


def _warm(path: str) -> None:
    load_handler(path)


def _redirect_output(log_file: str | None) -> None:
    """Send the process's stdout/stderr (JSON logs, EMF metrics) to ``log_file``, like CloudWatch Logs."""
    if log_file:
        stream = open(log_file, "a", buffering=1, encoding="utf-8")
        sys.stdout = sys.stderr = stream


class LambdaFunction:
    """A pool of warm processes running one handler (``concurrency`` = reserved concurrency)."""

    def __init__(
        self,
        handler: str,
        *,
        concurrency: int = 4,
        function_name: str | None = None,
        timeout_ms: int = 30_000,
        log_file: str | None = None,
    ):
        self.handler = handler
        self.function_name = function_name or handler.rsplit(".", 2)[-2]
        self.timeout_ms = timeout_ms
        self.log_file = log_file
        self.concurrency = concurrency
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.concurrency,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_redirect_output,
            initargs=(self.log_file,),
        )

    def warm(self) -> None:
        """Start every process and import the handler (so the first requests do not pay cold starts)."""
        for future in [self._pool.submit(_warm, self.handler) for _ in range(self.concurrency)]:
            future.result()

    def submit(self, event: dict[str, Any]) -> Future:
        try:
            return self._pool.submit(run_handler, self.handler, event, self.function_name, self.timeout_ms)
        except BrokenProcessPool:
            # A process died (killed, out of memory, os._exit): as Lambda does, start fresh ones.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(run_handler, self.handler, event, self.function_name, self.timeout_ms)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.submit(event).result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
