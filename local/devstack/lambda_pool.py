"""Lambda's execution model, locally: each function runs in its own processes ("execution
environments"), one event at a time each, isolated from one another.

Handlers keep per-invocation state in module globals (Powertools' resolver, logger keys), exactly as
Lambda allows; so, as in Lambda, concurrency comes from more environments, never from threads
sharing one. As in Lambda:

- an environment imports the handler once (its cold start, outside the invocation's timeout), then
  stays warm for the next invocations;
- an invocation that outlives the function's timeout is killed with its environment
  (``Sandbox.Timedout``);
- an environment that dies (SIGKILL, out of memory, ``os._exit``) fails only the invocation it was
  running (``Runtime.ExitError``) and is replaced by a fresh one. Environments share nothing (each
  is its own process with its own pipe), so killing one never touches another.

:meth:`LambdaFunction.kill` is the fault injection ``make chaos`` uses; :attr:`LambdaFunction.deaths`
records every invocation that ended without an answer (killed, timed out, exited), with its event.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import queue
import random
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from devstack.apigw import LambdaContext

#: How long an environment may take to start and import its handler (Lambda's init limit is 10 s;
#: a busy test machine needs more).
INIT_SECONDS = 120

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


def _redirect_output(log_file: str | None) -> None:
    """Send the process's stdout/stderr (JSON logs, EMF metrics) to ``log_file``, like CloudWatch Logs."""
    if log_file:
        stream = open(log_file, "a", buffering=1, encoding="utf-8")
        sys.stdout = sys.stderr = stream


def exit_with_parent() -> None:
    """End this process when the one that started it is gone (killed without cleaning up)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _serve(conn, handler: str, function_name: str, log_file: str | None, environment: dict[str, str]) -> None:
    """An execution environment's main loop: init once, then one invocation at a time."""
    exit_with_parent()
    os.environ.update(environment)
    _redirect_output(log_file)
    try:
        load_handler(handler)
    except Exception as exc:  # noqa: BLE001 - Lambda reports an init failure on the invocation
        traceback.print_exc()
        conn.send({"ok": False, "errorType": "Runtime.ImportModuleError", "errorMessage": str(exc)})
        return
    conn.send("ready")
    while True:
        try:
            event, timeout_ms = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(run_handler(handler, event, function_name, timeout_ms))


@dataclass
class Death:
    """An invocation that ended without an answer: ``killed`` (by :meth:`LambdaFunction.kill`),
    ``timeout``, or ``exited`` (the process died by itself), at ``at`` (epoch seconds)."""

    kind: str
    at: float
    event: dict[str, Any]
    reason: str = ""
    pid: int = 0


@dataclass
class _Environment:
    process: Any
    conn: Any
    ready: bool = False
    kill_reason: str | None = None
    killed_at: float = 0.0
    event: dict[str, Any] | None = field(default=None, repr=False)


class LambdaFunction:
    """``concurrency`` isolated environments running one handler (``concurrency`` = reserved
    concurrency); ``environment`` is added to each process's environment variables."""

    def __init__(
        self,
        handler: str,
        *,
        concurrency: int = 4,
        function_name: str | None = None,
        timeout_ms: int = 30_000,
        log_file: str | None = None,
        environment: dict[str, str] | None = None,
    ):
        self.handler = handler
        self.function_name = function_name or handler.rsplit(".", 2)[-2]
        self.timeout_ms = timeout_ms
        self.log_file = log_file
        self.concurrency = concurrency
        self.environment = dict(environment or {})
        self.deaths: list[Death] = []
        self.invocations = 0
        self._lock = threading.Lock()
        self._busy: dict[int, _Environment] = {}
        self._all: set[int] = set()
        self._closed = False
        self._idle: queue.SimpleQueue[_Environment] = queue.SimpleQueue()
        for _ in range(concurrency):
            self._idle.put(self._start())
        self._submitter = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=self.function_name)

    def _start(self) -> _Environment:
        context = multiprocessing.get_context("spawn")
        conn, child = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(child, self.handler, self.function_name, self.log_file, self.environment),
            daemon=True,
            name=f"lambda-{self.function_name}",
        )
        process.start()
        child.close()
        with self._lock:
            self._all.add(process.pid)
        return _Environment(process, conn)

    def warm(self) -> None:
        """Wait until every environment has imported the handler (so requests do not pay cold starts)."""
        environments = [self._idle.get() for _ in range(self.concurrency)]
        try:
            failures = [failed for failed in map(self._init, environments) if failed is not None]
        finally:
            for environment in environments:
                self._idle.put(environment)
        if failures:
            raise RuntimeError(f"{self.function_name}: init failed: {failures[0].get('errorMessage')}")

    def _init(self, environment: _Environment) -> dict[str, Any] | None:
        """Wait for the environment's init; an error outcome if it failed."""
        if environment.ready:
            return None
        try:
            if environment.conn.poll(INIT_SECONDS):
                message = environment.conn.recv()
                if message == "ready":
                    environment.ready = True
                    return None
                return message
        except (EOFError, OSError):
            pass
        return {"ok": False, "errorType": "Runtime.ExitError", "errorMessage": "init failed"}

    def submit(self, event: dict[str, Any]) -> Future:
        return self._submitter.submit(self.invoke, event)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """Run ``event`` in a free environment; ``{"ok": True, "result": ...}`` or an error outcome."""
        environment = self._idle.get()
        if not environment.process.is_alive():  # died between invocations (killed while idle)
            self._retire(environment)
            environment = self._start()
        alive = False
        try:
            failed_init = self._init(environment)
            if failed_init is not None:
                return failed_init
            outcome, alive = self._run(environment, event)
            return outcome
        finally:
            if not alive:
                self._retire(environment)
                environment = self._start() if not self._closed else environment
            self._idle.put(environment)

    def _run(self, environment: _Environment, event: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        pid = environment.process.pid
        environment.event = event
        with self._lock:
            self._busy[pid] = environment
            self.invocations += 1
        try:
            try:
                environment.conn.send((event, self.timeout_ms))
                answered = environment.conn.poll(self.timeout_ms / 1000)
            except OSError:  # the process is gone: the pipe is broken
                answered = True
            if answered:
                try:
                    return environment.conn.recv(), True
                except (EOFError, OSError):
                    pass
                environment.process.join(5)
                kind = "killed" if environment.kill_reason else "exited"
                at = environment.killed_at or time.time()
                error = f"Runtime exited with error: exit status {environment.process.exitcode}"
                self._died(Death(kind, at, event, environment.kill_reason or "", pid))
                return {"ok": False, "errorType": "Runtime.ExitError", "errorMessage": error}, False
            self._kill_process(environment)
            self._died(Death("timeout", time.time(), event, "", pid))
            seconds = self.timeout_ms / 1000
            timed_out = f"Task timed out after {seconds:.2f} seconds"
            return {"ok": False, "errorType": "Sandbox.Timedout", "errorMessage": timed_out}, False
        finally:
            with self._lock:
                self._busy.pop(pid, None)
            environment.event = None

    def _died(self, death: Death) -> None:
        with self._lock:
            self.deaths.append(death)

    def _retire(self, environment: _Environment) -> None:
        self._kill_process(environment)
        environment.conn.close()
        with self._lock:
            self._all.discard(environment.process.pid)

    @staticmethod
    def _kill_process(environment: _Environment) -> None:
        if environment.process.is_alive():
            try:
                os.kill(environment.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        environment.process.join(5)

    # ---- fault injection ----

    def pids(self) -> set[int]:
        """The process ids of every live environment."""
        with self._lock:
            return set(self._all)

    def busy(self) -> dict[int, dict[str, Any]]:
        """The environments running an invocation now: pid -> its event."""
        with self._lock:
            return {pid: env.event for pid, env in self._busy.items() if env.event is not None}

    def kill(
        self, pid: int | None = None, *, rng: random.Random | None = None, reason: str = "chaos"
    ) -> int | None:
        """SIGKILL the environment ``pid`` (or a random busy one) in the middle of its invocation;
        returns the pid killed, or None when there was nothing to kill."""
        with self._lock:
            if pid is None:
                candidates = sorted(self._busy)
                if not candidates:
                    return None
                pid = (rng or random).choice(candidates)
            environment = self._busy.get(pid)
            if environment is None:
                return None
            environment.kill_reason, environment.killed_at = reason, time.time()
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                return None
        return pid

    def close(self) -> None:
        self._closed = True
        self._submitter.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            pids = list(self._all)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
