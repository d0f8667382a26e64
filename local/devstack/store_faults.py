"""DynamoDB and S3 failing on purpose: an HTTP proxy in front of moto for the worker's store calls.

The worker and the DLQ consumer reach DynamoDB and S3 through it (``AWS_ENDPOINT_URL_DYNAMODB`` and
``_S3``); everything else talks to moto directly. On a seeded share of calls it answers, on the
wire, as the services do when they misbehave:

- ``throttle_rate``: DynamoDB ``ProvisionedThroughputExceededException`` (400), S3 ``SlowDown`` (503);
- ``error_rate``: DynamoDB ``InternalServerError`` (500), S3 ``InternalError`` (500);
- ``timeout_rate``: no answer until the client's read timeout has passed (``hold_seconds``), then the
  connection closes; half of these after moto has applied the call (the write happened, its answer
  is lost), half before;
- ``kill_at_write_rate``: a final job-state write (a PutItem of a succeeded or failed job) kills the calling
  worker process on the spot (``on_kill`` finds it by its socket), before or after the write is
  applied: the "model answered, outcome not yet recorded" window, hit on purpose.

Decisions are a function of the seed, the call (service, operation, item or object key) and how
many times that same call was seen before, not of arrival order: a replay with the same seed meets
the same faults on the same jobs, as far as the timing of a concurrent system allows.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from bedrock_gateway.core.jobs.contract import TERMINAL

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
}
_DYNAMODB_ERRORS = {
    "throttle": (
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    ),
    "error": (500, "InternalServerError", "Internal server error"),
}
_S3_ERRORS = {
    "throttle": (503, "SlowDown", "Please reduce your request rate."),
    "error": (500, "InternalError", "We encountered an internal error. Please try again."),
}


def read_request_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request's body, sent with a Content-Length or chunked (botocore streams some bodies).

    Raises ConnectionAbortedError when the caller died while sending: the service never sees the call.
    """
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        parts = []
        while size := int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(handler.rfile.read(size))
            handler.rfile.readline()
        while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        return b"".join(parts)
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else b""
    if len(body) < length:
        raise ConnectionAbortedError("request cut short")
    return body


@dataclass(frozen=True)
class StoreFaults:
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    kill_at_write_rate: float = 0.0
    hold_seconds: float = 2.0
    seed: int = 0
    #: Tests: fault only final job-state writes (``"final-write"``), and at most ``limit`` calls.
    only: str | None = None
    limit: int | None = None
    when: str | None = None  # "before" or "after" the service applied the call; None: either, half each

    @property
    def active(self) -> bool:
        return any((self.throttle_rate, self.error_rate, self.timeout_rate, self.kill_at_write_rate))


class StoreFaultProxy:
    """Forwards to ``upstream`` (moto), failing calls as ``faults`` says; ``counters`` says what it did."""

    def __init__(
        self,
        upstream: str,
        faults: StoreFaults,
        on_kill: Callable[[int], bool] | None = None,
        host: str = "127.0.0.1",
    ):
        self.upstream = urlsplit(upstream)
        self.faults = faults
        self.on_kill = on_kill
        self.counters: Counter[str] = Counter()
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = _Server((host, 0), _Handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="store-faults", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> StoreFaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self, name: str) -> None:
        with self._lock:
            self.counters[name] += 1

    def decide(self, call: str, final_write: bool) -> str | None:
        """``throttle``, ``error``, ``timeout-before``, ``timeout-after``, ``kill-before``,
        ``kill-after`` or None, for the n-th time ``call`` is seen."""
        faults = self.faults
        if faults.only == "final-write" and not final_write:
            return None
        with self._lock:
            seen = self._seen[call]
            self._seen[call] += 1
        fault = self._draw(
            random.Random(hashlib.sha256(f"{faults.seed}|{call}|{seen}".encode()).digest()), final_write
        )
        if fault and faults.limit is not None:
            with self._lock:
                if self.counters["limited"] >= faults.limit:
                    return None
                self.counters["limited"] += 1
        return fault

    def _draw(self, draw: random.Random, final_write: bool) -> str | None:
        faults = self.faults
        if final_write and draw.random() < faults.kill_at_write_rate:
            return f"kill-{self._when(draw)}"
        roll = draw.random()
        for name, rate in (("throttle", faults.throttle_rate), ("error", faults.error_rate)):
            if roll < rate:
                return name
            roll -= rate
        if roll < faults.timeout_rate:
            return f"timeout-{self._when(draw)}"
        return None

    def _when(self, draw: random.Random) -> str:
        when = "before" if draw.random() < 0.5 else "after"
        return self.faults.when or when


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, handler, proxy: StoreFaultProxy):
        self.proxy = proxy
        super().__init__(address, handler)

    def handle_error(self, request, client_address) -> None:
        pass  # clients giving up on held calls is the point


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the head and the body go out in two writes
    server: _Server

    def log_message(self, format: str, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._proxy()

    def do_PUT(self) -> None:
        self._proxy()

    def do_POST(self) -> None:
        self._proxy()

    def do_HEAD(self) -> None:
        self._proxy()

    def do_DELETE(self) -> None:
        self._proxy()

    def _proxy(self) -> None:
        proxy = self.server.proxy
        try:
            body = read_request_body(self)
        except (ConnectionAbortedError, OSError, ValueError):
            return self._close()
        target = self.headers.get("X-Amz-Target", "")
        service = "dynamodb" if target.startswith("DynamoDB_") else "s3"
        final_write = False
        if service == "dynamodb":
            operation = target.rpartition(".")[2]
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                request = {}
            item = request.get("Item") or {}  # a PutItem's key is in its item
            key = request.get("Key") or ({"jobId": item["jobId"]} if "jobId" in item else None)
            call = f"dynamodb|{operation}|{json.dumps(key, sort_keys=True)}"
            final_write = (
                operation == "PutItem" and item.get("status", {}).get("S") in TERMINAL
            )  # the worker puts a final record whole
        else:
            call = f"s3|{self.command}|{self.path.split('?')[0]}"
        fault = proxy.decide(call, final_write) if self.command != "HEAD" else None
        if fault:
            proxy.count(f"{service}-{fault}")
        if fault in ("throttle", "error"):
            return self._fail(service, fault)
        if fault == "kill-before":
            return self._kill()
        if fault == "timeout-before":
            return self._hang()
        status, headers, payload = self._forward(body)
        if fault == "kill-after":
            return self._kill()
        if fault == "timeout-after":
            return self._hang()
        self._answer(status, headers, payload)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        for attempt in range(2):  # a kept-alive connection the upstream has closed: once more on a new one
            connection = self._upstream()
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, OSError):
                connection.close()
                self.upstream = None
                if attempt:
                    raise
        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP | {"content-length"}]
        return response.status, kept, payload

    def _upstream(self) -> http.client.HTTPConnection:
        """This connection's own kept-alive connection to moto (a handler serves one connection)."""
        if getattr(self, "upstream", None) is None:
            target = self.server.proxy.upstream
            self.upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        return self.upstream

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if getattr(self, "upstream", None) is not None:
                self.upstream.close()

    def _answer(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _fail(self, service: str, fault: str) -> None:
        if service == "dynamodb":
            status, code, message = _DYNAMODB_ERRORS[fault]
            payload = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message})
            headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", "chaos")]
        else:
            status, code, message = _S3_ERRORS[fault]
            payload = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                f"<Message>{message}</Message><RequestId>chaos</RequestId></Error>"
            )
            headers = [("Content-Type", "application/xml")]
        self._answer(status, headers, payload.encode())

    def _hang(self) -> None:
        """Say nothing until the client has given up, then close the connection."""
        time.sleep(self.server.proxy.faults.hold_seconds)
        self._close()

    def _kill(self) -> None:
        """Kill the process that sent this call, and never answer it."""
        on_kill = self.server.proxy.on_kill
        if on_kill is not None and on_kill(self.client_address[1]):
            self.server.proxy.count("killed-at-write")
        self._close()

    def _close(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def connection_owner(client_port: int, server_port: int, pids: set[int]) -> int | None:
    """Which of ``pids`` holds the TCP connection from ``client_port`` to ``server_port`` on this
    machine (Linux: the socket's inode in /proc/net/tcp, then each process's open descriptors)."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table, encoding="ascii").read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (
                int(local.rsplit(":", 1)[1], 16) == client_port
                and int(remote.rsplit(":", 1)[1], 16) == server_port
            ):
                inode = fields[9]
                break
        if inode:
            break
    if not inode:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in descriptors:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None
