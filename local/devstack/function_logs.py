"""The stream function's log file, for the stream app the local front door runs in its own process.

In AWS the stream app is a Lambda function of its own, and everything it prints (Powertools JSON
logs, EMF metrics) goes to its log group. Locally the same app runs inside the front door's process,
next to the banner and uvicorn's messages; :class:`FunctionLog` sends what the app prints and logs
while it serves a request to ``stream.log``, as the Lambda-like processes' output goes to
``api.log`` and the others (``make usage`` reads them all).

The request's context says where output goes (a context variable: asyncio tasks and anyio's worker
threads inherit it), so the process's other output stays on the terminal.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TextIO

#: The log file of the function serving the request in this context (None: not a function's request).
_function_log: ContextVar[TextIO | None] = ContextVar("devstack_function_log", default=None)


class _RoutedOutput:
    """A text stream that writes to the log file of the function serving this context's request,
    else to ``fallback`` (the stream it replaced)."""

    def __init__(self, fallback: TextIO):
        self.fallback = fallback

    def _target(self) -> TextIO:
        log = _function_log.get()
        return self.fallback if log is None or log.closed else log

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno...: the terminal's
        return getattr(self.fallback, name)


def _route(stream: Any) -> Any:
    return stream if isinstance(stream, _RoutedOutput) else _RoutedOutput(stream)


def _route_powertools_logger() -> None:
    """The gateway's Powertools logger writes to the stream its handler was made with (stdout then)."""
    from bedrock_gateway.observability import logger

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(_route(handler.stream))


class FunctionLog:
    """``path``, opened for appending: the log file of an ASGI app served in this process."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file = open(self.path, "a", buffering=1, encoding="utf-8")

    def wrap(self, app):
        """``app``, with what it prints (EMF metrics) and logs (the gateway's Powertools logger) while
        serving a request written to this log."""
        _route_powertools_logger()
        log_file = self._file

        async def logged(scope: dict[str, Any], receive, send) -> None:
            # Each time: something else (a test runner's capture) may have replaced sys.stdout since.
            sys.stdout = _route(sys.stdout)
            token = _function_log.set(log_file)
            try:
                await app(scope, receive, send)
            finally:
                _function_log.reset(token)

        return logged

    def close(self) -> None:
        self._file.close()
