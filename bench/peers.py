"""``make bench-peers``: this gateway side by side with LiteLLM's proxy, on the same emulator, same body.

Starts, on 127.0.0.1 only:

- the Bedrock emulator, in its own process, shared by everyone below;
- the local stack (``local/devstack``, as ``make run`` builds it) in its own process, pointed at
  that emulator; our routes are ``/v1/targets/{target}/invoke`` and ``/stream`` through its API
  Gateway stand-in;
- LiteLLM's proxy (pinned in ``bench/peers-requirements.txt``, installed on first use into its own
  virtualenv under ``.bench/``), one process, no database, offline, with dummy credentials and its
  Bedrock runtime endpoint at the emulator; its routes are the Bedrock pass-through
  (``/bedrock/model/{name}/invoke`` and ``/invoke-with-response-stream``) and ``/chat/completions``.

Then it measures, interleaved round by round with direct boto3 calls to the emulator (the floor):
sync latency and stream first byte with a 0 ms model, stream total for about 105 events with 100 ms
to first token, server CPU per stream request (from ``/proc`` of the server processes) and peak memory
(``VmHWM``). Writes ``.bench/peers.json`` (one entry per row: our value, each peer route's value, the
unit and ``ahead``) and ``.bench/peers.md``, prints the table, stops every process it started.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import peers_report
from bench.common import (
    BENCH_DIR,
    PYTHONPATH,
    REPO,
    configure_emulator,
    machine,
    percentile,
    readline_within,
    reset_emulator,
)

# The model every route calls. Any Claude messages model of the emulator's catalog that streams
# on demand works; change it here (or with --model-id) when the catalog's default Claude changes.
MODEL_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
TARGET = "bench-claude"  # our target for MODEL_ID, in the targets file this run writes
# Forced at the emulator: 190 output tokens, which the emulator's words (one to a few tokens each) make
# into about 100 deltas: a stream of about 105 events (message and block start, the deltas, 3 closing
# events). The run counts a direct stream's events first and holds every route to that count.
OUTPUT_TOKENS = 190
CLOSING_EVENTS = 5  # a Claude messages stream's events that are not text deltas
PROMPT = "write an essay for living on mars in 1000 words"
REQUIREMENTS = REPO / "bench" / "peers-requirements.txt"
PEERS_DIR = BENCH_DIR / "peers"
ROUTES = ("direct", "ours", "litellm_passthrough", "litellm_chat")
REGION = "us-east-1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def claude_body() -> bytes:
    """The Claude messages body that direct boto3, our routes and the pass-through send, byte for byte."""
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 400,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def chat_body(model: str, stream: bool) -> bytes:
    """The same request in OpenAI chat/completions form, for LiteLLM's own route."""
    body = {"model": model, "max_tokens": 400, "messages": [{"role": "user", "content": PROMPT}]}
    if stream:
        body["stream"] = True
    return json.dumps(body, separators=(",", ":")).encode()


# ---- what came back on the wire ----


def count_sse_events(data: bytes, name: str) -> int:
    """Server-Sent Events named ``name`` (our stream route's ``event: chunk`` frames)."""
    wanted = b"event: " + name.encode()
    return sum(1 for line in data.split(b"\n") if line.rstrip(b"\r") == wanted)


def count_sse_data(data: bytes) -> int:
    """``data:`` frames of an OpenAI-style stream, the closing ``[DONE]`` left out."""
    return sum(1 for line in data.split(b"\n") if line.startswith(b"data:") and line[5:].strip() != b"[DONE]")


def count_eventstream_messages(data: bytes) -> int:
    """Messages in AWS event-stream bytes (each starts with its 4-byte big-endian total length).

    Raises ValueError when the bytes do not split into whole messages: a truncated stream.
    """
    count = offset = 0
    while offset < len(data):
        if offset + 16 > len(data):
            raise ValueError(f"truncated event-stream message at byte {offset}")
        total = int.from_bytes(data[offset : offset + 4], "big")
        if total < 16 or offset + total > len(data):
            raise ValueError(f"bad event-stream message length {total} at byte {offset}")
        offset += total
        count += 1
    return count


# ---- /proc: CPU, memory, processes, sockets ----

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_ms_from_stat(text: str, ticks_per_second: int = CLOCK_TICKS) -> float:
    """utime + stime of a ``/proc/<pid>/stat`` line, in ms (the name in parentheses may hold spaces)."""
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / ticks_per_second


def vmhwm_mib_from_status(text: str) -> float:
    """Peak resident set (``VmHWM``) of a ``/proc/<pid>/status`` text, in MiB."""
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise ValueError("no VmHWM line")


def decode_proc_net_address(text: str) -> tuple[str, int]:
    """An address of ``/proc/net/tcp`` or ``tcp6`` (hex, 32-bit words in host order) as (ip, port)."""
    host, port = text.split(":")
    raw = bytes.fromhex(host)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))  # little-endian hosts
    return str(ipaddress.ip_address(words)), int(port, 16)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def process_cpu_ms(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_ms_from_stat(_read(f"/proc/{pid}/stat"))
    return total


def peak_mib(pid: int) -> float:
    return vmhwm_mib_from_status(_read(f"/proc/{pid}/status"))


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (by parent pid)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int(_read(f"/proc/{entry}/stat").rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def handler_processes(front_pid: int) -> list[int]:
    """The Lambda-like handler processes of the local stack (multiprocessing ``spawn`` children)."""
    pids = []
    for pid in descendants(front_pid):
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
    return sorted(pids)


def remote_addresses(pid: int) -> set[str]:
    """Remote IPs of the TCP connections ``pid`` holds open (listening sockets left out)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in _read(f"/proc/{pid}/net/{table}").splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[9] in inodes:
                    ip, port = decode_proc_net_address(fields[2])
                    if port:
                        found.add(ip)
    return found


def is_loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


# ---- LiteLLM: install, configure, run ----


def litellm_venv(say) -> Path:
    """The pinned LiteLLM proxy in its own virtualenv under ``.bench/``, installed once per lock."""
    key = hashlib.sha256(REQUIREMENTS.read_bytes() + sys.version.encode()).hexdigest()[:12]
    venv = BENCH_DIR / f"litellm-{key}"
    if (venv / ".complete").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    say(
        f"bench-peers: installing the pinned LiteLLM proxy into {venv.relative_to(REPO)} (first run only, ~1-2 min)"
    )
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    command = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-r",
        str(REQUIREMENTS),
    ]
    try:
        subprocess.run(command, check=True, timeout=1200, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(venv, ignore_errors=True)
        raise SystemExit(f"bench-peers: pip could not install LiteLLM:\n{exc.stderr[-3000:]}") from None
    (venv / ".complete").write_text(" ".join(command) + "\n")
    return venv


def litellm_config(model_id: str, emulator_url: str) -> dict[str, Any]:
    """The proxy's config: two names for one model, the Bedrock runtime endpoint at the emulator.

    The pass-through sends the model's native body to InvokeModel as-is. ``/chat/completions`` would
    use Bedrock's Converse API for Claude 3 by default; ``bedrock/invoke/`` makes it translate to the
    same InvokeModel call (the emulator speaks InvokeModel, as the gateway does).
    """
    common = {
        "aws_region_name": REGION,
        "aws_access_key_id": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "aws_bedrock_runtime_endpoint": emulator_url,
    }
    return {
        "model_list": [
            {"model_name": "bench-passthrough", "litellm_params": {"model": f"bedrock/{model_id}", **common}},
            {"model_name": "bench-chat", "litellm_params": {"model": f"bedrock/invoke/{model_id}", **common}},
        ],
        "litellm_settings": {"telemetry": False},
        "general_settings": {},  # no database_url: no database
    }


def litellm_env(home: Path, emulator_url: str, master_key: str) -> dict[str, str]:
    """A clean environment for the proxy: offline, dummy credentials, nothing of the caller's (no real keys)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LITELLM_MASTER_KEY": master_key,
        # Bundled copies instead of fetching them at start-up or on first use.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
        "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
        "LITELLM_LOCAL_BLOG_POSTS": "True",
        "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
        "HF_HUB_OFFLINE": "1",
        "OTEL_SDK_DISABLED": "true",
        "DO_NOT_TRACK": "1",
        # Anything that honours proxy variables and is not for 127.0.0.1 goes nowhere.
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_BEDROCK_RUNTIME_ENDPOINT": emulator_url,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator_url,
        "AWS_EC2_METADATA_DISABLED": "true",
        **DUMMY_CREDENTIALS,
    }


def litellm_version(venv: Path) -> str:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()


# ---- processes this run starts ----


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A process this run starts in a session of its own; :meth:`stop` ends it and whatever it spawned."""

    def __init__(
        self,
        name: str,
        command: list[str],
        *,
        env: dict[str, str],
        log: Path,
        pipe_stdout: bool,
        stops_on_eof: bool = False,
    ):
        self.name, self.log, self.stops_on_eof = name, log, stops_on_eof
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(log, "ab")
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE if pipe_stdout else self._log_file,
            stderr=self._log_file,
            start_new_session=True,
            text=True,
        )
        self.pid = self.process.pid

    def readline(self, timeout: float) -> str:
        line = readline_within(self.process.stdout, timeout)
        if not line:
            self.stop()
            raise SystemExit(f"bench-peers: {self.name} did not start; see {self.log}:\n{self.tail()}")
        return line

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, grace: float = 15) -> None:
        """End of stdin (the stack's clean stop) or SIGTERM, then SIGKILL; then the same for its group."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        if self.process.poll() is None:
            if not self.stops_on_eof:
                self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        # Anything it left in its session (handler processes, a resource tracker): that group is ours.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(0.5)
        self._log_file.close()


def start_emulator() -> tuple[Server, str]:
    server = Server(
        "the Bedrock emulator",
        [sys.executable, "-m", "bedrock_emulator", "--host", "127.0.0.1", "--port", "0"],
        env=dict(os.environ, PYTHONPATH=PYTHONPATH),
        log=PEERS_DIR / "emulator.log",
        pipe_stdout=True,
    )
    line = server.readline(60)
    return server, line.strip().rsplit(" ", 1)[-1]


def start_stack(emulator_url: str, concurrency: int) -> Server:
    targets = PEERS_DIR / "targets.toml"
    targets.write_text(
        f'# Written by make bench-peers.\ndefault_target = "{TARGET}"\n\n[targets.{TARGET}]\nmodel = "{MODEL_ID}"\n'
    )
    env = dict(os.environ, PYTHONPATH=PYTHONPATH, PYTHONUNBUFFERED="1", **DUMMY_CREDENTIALS)
    return Server(
        "the local stack",
        [
            sys.executable,
            "-m",
            "bench._peers_stack",
            "--emulator-url",
            emulator_url,
            "--targets-file",
            str(targets),
            "--concurrency",
            str(concurrency),
            "--log-dir",
            str(PEERS_DIR / "stack-logs"),
        ],
        env=env,
        log=PEERS_DIR / "stack.log",
        pipe_stdout=True,
        stops_on_eof=True,
    )


def start_litellm(venv: Path, emulator_url: str, master_key: str) -> tuple[Server, str]:
    config = PEERS_DIR / "litellm-config.yaml"  # JSON is YAML
    config.write_text(json.dumps(litellm_config(MODEL_ID, emulator_url), indent=2) + "\n")
    home = PEERS_DIR / "litellm-home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = Server(
        "the LiteLLM proxy",
        [
            str(venv / "bin" / "litellm"),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
        ],
        env=litellm_env(home, emulator_url, master_key),
        log=PEERS_DIR / "litellm.log",
        pipe_stdout=False,
    )
    return server, f"http://127.0.0.1:{port}"


def wait_until_live(server: Server, url: str, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(
                f"bench-peers: {server.name} exited at start-up; see {server.log}:\n{server.tail()}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health/liveliness", timeout=2, trust_env=False).status_code == 200:
                return
        time.sleep(0.5)
    raise SystemExit(
        f"bench-peers: {server.name} not live after {timeout:.0f} s; see {server.log}:\n{server.tail()}"
    )


# ---- the four routes ----


class Routes:
    """One client per server, kept alive across requests; each call checks what came back."""

    def __init__(self, emulator_url: str, stack_url: str, litellm_url: str, master_key: str):
        import boto3
        import httpx
        from botocore.config import Config

        self.direct = boto3.client(
            "bedrock-runtime",
            endpoint_url=emulator_url,
            region_name=REGION,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"max_attempts": 1}),
        )
        self.ours = httpx.Client(base_url=stack_url, timeout=60, trust_env=False)
        self.litellm = httpx.Client(
            base_url=litellm_url,
            timeout=60,
            trust_env=False,
            headers={"Authorization": f"Bearer {master_key}"},
        )
        self.body = claude_body()
        self.chat = chat_body("bench-chat", stream=False)
        self.chat_stream = chat_body("bench-chat", stream=True)
        self.expected_events: int | None = None  # set by count_events() from a direct stream

    def close(self) -> None:
        self.ours.close()
        self.litellm.close()

    # sync: elapsed ms
    def sync(self, route: str) -> float:
        headers = {"Content-Type": "application/json"}
        started = time.perf_counter()
        if route == "direct":
            response = self.direct.invoke_model(
                modelId=MODEL_ID, body=self.body, contentType="application/json", accept="application/json"
            )
            payload = response["body"].read()
        else:
            client, path, body = {
                "ours": (self.ours, f"/v1/targets/{TARGET}/invoke", self.body),
                "litellm_passthrough": (self.litellm, "/bedrock/model/bench-passthrough/invoke", self.body),
                "litellm_chat": (self.litellm, "/chat/completions", self.chat),
            }[route]
            response = client.post(path, content=body, headers=headers)
            payload = response.content
            if response.status_code != 200:
                raise RuntimeError(f"{route}: HTTP {response.status_code}: {payload[:500]!r}")
        elapsed = (time.perf_counter() - started) * 1000
        usage = json.loads(payload)["usage"]
        tokens = usage.get("output_tokens", usage.get("completion_tokens"))
        if tokens != OUTPUT_TOKENS:
            raise RuntimeError(f"{route}: {tokens} output tokens, expected {OUTPUT_TOKENS}")
        return elapsed

    # stream: (first byte ms, total ms, events)
    def stream(self, route: str) -> tuple[float, float, int]:
        started = time.perf_counter()
        first = None
        if route == "direct":
            response = self.direct.invoke_model_with_response_stream(
                modelId=MODEL_ID, body=self.body, contentType="application/json", accept="application/json"
            )
            events = 0
            for event in response["body"]:
                if "chunk" in event:
                    first = first or time.perf_counter()
                    events += 1
            done = time.perf_counter()
        else:
            client, path, body, count = {
                "ours": (self.ours, f"/v1/targets/{TARGET}/stream", self.body, self._ours_events),
                "litellm_passthrough": (
                    self.litellm,
                    "/bedrock/model/bench-passthrough/invoke-with-response-stream",
                    self.body,
                    count_eventstream_messages,
                ),
                "litellm_chat": (self.litellm, "/chat/completions", self.chat_stream, count_sse_data),
            }[route]
            parts = []
            with client.stream("POST", path, content=body, headers={"Content-Type": "application/json"}) as r:
                if r.status_code != 200:
                    raise RuntimeError(f"{route}: HTTP {r.status_code}: {r.read()[:500]!r}")
                for part in r.iter_raw():
                    if part:
                        first = first or time.perf_counter()
                        parts.append(part)
            done = time.perf_counter()
            events = count(b"".join(parts))  # after the clock: parsing is the bench's, not the route's
        if self.expected_events is not None:
            # LiteLLM's chat route sends one chunk per text delta, and may add a final usage chunk.
            chat = route == "litellm_chat"
            wanted = self.expected_events - CLOSING_EVENTS if chat else self.expected_events
            if events < wanted or (not chat and events != wanted):
                raise RuntimeError(f"{route}: stream of {events} events, expected {wanted}")
        return (first - started) * 1000, (done - started) * 1000, events

    def count_events(self) -> int:
        """How many events a direct stream of the current emulator settings has; every route must match."""
        self.expected_events = None
        _, _, self.expected_events = self.stream("direct")
        return self.expected_events

    @staticmethod
    def _ours_events(data: bytes) -> int:
        if b"event: done" not in data:
            raise RuntimeError(f"ours: stream without its done event: {data[-300:]!r}")
        return count_sse_events(data, "chunk")


class Deadline:
    def __init__(self, seconds: float):
        self.seconds, self.end = seconds, time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise SystemExit(f"bench-peers: over its {self.seconds:.0f} s budget; stopping (--max-seconds)")


def interleaved(rounds: int, measure: Callable[[str], Any], deadline: Deadline) -> dict[str, list]:
    """``rounds`` rounds of every route, the order rotated each round so none is always first."""
    results: dict[str, list] = {route: [] for route in ROUTES}
    for index in range(rounds):
        deadline.check()
        shift = index % len(ROUTES)
        for route in ROUTES[shift:] + ROUTES[:shift]:
            results[route].append(measure(route))
    return results


def _absolute(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 2),
        "p99": round(percentile(values, 99), 2),
        "n": len(values),
    }


def latency_row(name: str, title: str, samples: dict[str, list[float]], detail: dict) -> dict:
    direct = samples["direct"]
    return peers_report.row(
        name,
        title,
        peers_report.LATENCY_UNIT,
        peers_report.added_latency(samples["ours"], direct),
        {route: peers_report.added_latency(samples[route], direct) for route in peers_report.PEER_ROUTES},
        detail={
            "ms": {route: _absolute(values) for route, values in samples.items()},
            **detail,
            "samples_ms": {route: [round(v, 2) for v in values] for route, values in samples.items()},
        },
    )


# ---- CPU and memory ----


def server_cpu_per_request(
    pids: Callable[[], list[int]], request: Callable[[], Any], count: int, idle_ms_per_s: float
) -> dict[str, float]:
    """Server CPU (utime + stime, all its processes) per request over ``count`` back-to-back requests.

    Work a server does after the response (logging callbacks, say) lands before the second read,
    thanks to the pause; its idle rate over the same wall time is taken off.
    """
    request()
    time.sleep(0.3)
    watched = pids()
    started, before = time.monotonic(), process_cpu_ms(watched)
    for _ in range(count):
        request()
    time.sleep(0.3)
    elapsed, used = time.monotonic() - started, process_cpu_ms(watched) - before
    idle = idle_ms_per_s * elapsed
    return {
        "per_request_ms": round(max(0.0, used - idle) / count, 2),
        "raw_per_request_ms": round(used / count, 2),
        "idle_subtracted_ms": round(idle, 1),
        "requests": count,
    }


def idle_rates(servers: dict[str, Callable[[], list[int]]], seconds: float) -> dict[str, float]:
    """CPU ms per second each server spends with no request in flight."""
    pids = {name: get() for name, get in servers.items()}
    before = {name: process_cpu_ms(p) for name, p in pids.items()}
    time.sleep(seconds)
    return {name: round((process_cpu_ms(p) - before[name]) / seconds, 2) for name, p in pids.items()}


def burst(routes: Routes, concurrent: int, per_route: int, deadline: Deadline) -> dict[str, int]:
    """``per_route`` sync calls and as many streams per server route, ``concurrent`` at a time, before
    peak memory is read (one request at a time is not how a proxy process lives)."""
    errors: dict[str, int] = {}
    lock = threading.Lock()

    def one(job: tuple[str, str]) -> None:
        route, kind = job
        try:
            routes.sync(route) if kind == "sync" else routes.stream(route)
        except Exception as exc:  # noqa: BLE001 - counted and reported, the burst goes on
            key = f"{route} {kind}: {type(exc).__name__}: {str(exc)[:200]}"
            with lock:
                errors[key] = errors.get(key, 0) + 1

    jobs = [(route, kind) for route in ROUTES[1:] for kind in ("sync", "stream") for _ in range(per_route)]
    deadline.check()
    with ThreadPoolExecutor(concurrent) as pool:
        list(pool.map(one, jobs))
    return errors


# ---- the run ----


def main(argv: list[str] | None = None) -> int:
    global MODEL_ID
    parser = argparse.ArgumentParser(prog="make bench-peers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sync-rounds", type=int, default=150)
    parser.add_argument("--stream-rounds", type=int, default=120, help="rounds of the 0 ms first-byte phase")
    parser.add_argument(
        "--total-rounds", type=int, default=100, help="rounds of the 100 ms stream-total phase"
    )
    parser.add_argument("--cpu-requests", type=int, default=30, help="streams per server route for CPU")
    parser.add_argument(
        "--burst", type=int, default=16, help="concurrent requests before peak memory is read"
    )
    parser.add_argument("--concurrency", type=int, default=2, help="our Lambda-like sync handler processes")
    parser.add_argument("--model-id", default=MODEL_ID, help="a Claude messages model that streams")
    parser.add_argument("--max-seconds", type=float, default=420, help="stop (and fail) past this")
    parser.add_argument("--out", default=str(BENCH_DIR / "peers.json"))
    args = parser.parse_args(argv)
    MODEL_ID = args.model_id

    def say(text: str) -> None:
        print(text, flush=True)

    venv = litellm_venv(say)  # before the clock: the first install is not part of the run
    version = litellm_version(venv)
    started = time.monotonic()
    deadline = Deadline(args.max_seconds)
    PEERS_DIR.mkdir(parents=True, exist_ok=True)
    for stale in ("emulator.log", "stack.log", "litellm.log"):
        (PEERS_DIR / stale).unlink(missing_ok=True)
    shutil.rmtree(PEERS_DIR / "stack-logs", ignore_errors=True)
    master_key = "sk-bench-" + secrets.token_hex(16)
    servers: list[Server] = []
    routes = None
    try:
        emulator, emulator_url = start_emulator()
        servers.append(emulator)
        stack = start_stack(emulator_url, args.concurrency)
        servers.append(stack)
        litellm, litellm_url = start_litellm(venv, emulator_url, master_key)
        servers.append(litellm)
        stack_info = json.loads(stack.readline(180))
        wait_until_live(litellm, litellm_url, 180)
        say(
            f"bench-peers: emulator {emulator_url}, local stack {stack_info['url']} "
            f"({args.concurrency} sync handler processes), LiteLLM {version} {litellm_url}; model {MODEL_ID}"
        )
        reset_emulator(emulator_url)
        routes = Routes(emulator_url, stack_info["url"], litellm_url, master_key)
        result = measure(args, routes, emulator_url, stack_info["pid"], litellm.pid, deadline, say)
    finally:
        if routes is not None:
            routes.close()
        for server in reversed(servers):
            server.stop()

    rows, extra, notes = result
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    settings.update(output_tokens=OUTPUT_TOKENS, stream_events=extra.get("stream_events"), target=TARGET)
    doc = peers_report.document(
        rows, machine=machine(), litellm_version=version, settings=settings, started=started, extra=extra
    )
    out = Path(args.out)
    peers_report.write(out, doc)
    text = peers_report.markdown(doc, notes)
    out.with_suffix(".md").write_text(text)
    say("")
    say(text)
    say(f"bench-peers: {out.with_suffix('.md')} and {out} in {doc['duration_s']:.0f} s")
    return 0


def measure(args, routes: Routes, emulator_url: str, stack_pid: int, litellm_pid: int, deadline, say):
    def ours_pids() -> list[int]:
        return [stack_pid, *handler_processes(stack_pid)]

    def litellm_pids() -> list[int]:
        return [litellm_pid, *descendants(litellm_pid)]

    remote: set[str] = set()

    def watch_egress() -> None:
        for pid in litellm_pids():
            remote.update(remote_addresses(pid))

    zero = {"ttft_ms": 0, "chunk_delay_ms": 0, "output_tokens": OUTPUT_TOKENS}
    slow_start = dict(zero, ttft_ms=100)
    configure_emulator(emulator_url, MODEL_ID, **zero)
    events = routes.count_events()
    say(f"bench-peers: a stream is {events} events")
    for _ in range(5):  # connections, caches, lazily loaded code, our streaming-support lookup
        interleaved(1, routes.sync, deadline)
        interleaved(1, routes.stream, deadline)
    watch_egress()

    sync = interleaved(args.sync_rounds, routes.sync, deadline)
    say(f"bench-peers: sync, {args.sync_rounds} rounds done")
    first = interleaved(args.stream_rounds, routes.stream, deadline)
    say(f"bench-peers: stream first byte, {args.stream_rounds} rounds done")
    configure_emulator(emulator_url, MODEL_ID, **slow_start)
    total = interleaved(args.total_rounds, routes.stream, deadline)
    say(f"bench-peers: stream total, {args.total_rounds} rounds done")
    watch_egress()

    idle = idle_rates({"ours": ours_pids, "litellm": litellm_pids}, 4)
    cpu = {
        "ours": server_cpu_per_request(
            ours_pids, lambda: routes.stream("ours"), args.cpu_requests, idle["ours"]
        ),
        **{
            route: server_cpu_per_request(
                litellm_pids, lambda route=route: routes.stream(route), args.cpu_requests, idle["litellm"]
            )
            for route in peers_report.PEER_ROUTES
        },
    }
    deadline.check()
    client_started = time.process_time()
    for _ in range(args.cpu_requests):
        routes.stream("direct")
    boto3_floor = (time.process_time() - client_started) * 1000 / args.cpu_requests
    configure_emulator(emulator_url, MODEL_ID, **zero)
    sync_cpu = {
        "ours": server_cpu_per_request(
            ours_pids, lambda: routes.sync("ours"), args.cpu_requests, idle["ours"]
        ),
        **{
            route: server_cpu_per_request(
                litellm_pids, lambda route=route: routes.sync(route), args.cpu_requests, idle["litellm"]
            )
            for route in peers_report.PEER_ROUTES
        },
    }
    say("bench-peers: CPU done")
    configure_emulator(emulator_url, MODEL_ID, **slow_start)
    burst_errors = burst(routes, args.burst, args.burst * 2, deadline) if args.burst else {}
    watch_egress()
    handlers = handler_processes(stack_pid)
    ours_peaks = {pid: round(peak_mib(pid), 1) for pid in handlers}
    litellm_peaks = {pid: round(peak_mib(pid), 1) for pid in litellm_pids()}
    front_peak = round(peak_mib(stack_pid), 1)
    say("bench-peers: memory done")

    stream_detail = {
        "events_per_stream": {route: sorted(set(e for _, _, e in values)) for route, values in first.items()}
    }
    rows = [
        latency_row("sync_0ms", "sync, 0 ms model", sync, {}),
        latency_row(
            "stream_first_byte_0ms",
            "stream first byte, 0 ms model",
            {route: [f for f, _, _ in values] for route, values in first.items()},
            stream_detail,
        ),
        latency_row(
            "stream_total_105_events_100ms_ttft",
            f"stream total, {events} events, 100 ms to first token",
            {route: [t for _, t, _ in values] for route, values in total.items()},
            {
                "first_byte_ms": {
                    route: _absolute([f for f, _, _ in values]) for route, values in total.items()
                },
                "events_per_stream": {
                    route: sorted(set(e for _, _, e in values)) for route, values in total.items()
                },
            },
        ),
        peers_report.row(
            "server_cpu_per_stream_request",
            "server CPU per stream request",
            "ms of CPU (utime + stime of the server processes)",
            {"value": cpu["ours"]["per_request_ms"]},
            {route: {"value": cpu[route]["per_request_ms"]} for route in peers_report.PEER_ROUTES},
            detail={
                "stream": f"{events} events, 100 ms to first token",
                "per_route": cpu,
                "idle_ms_per_s": idle,
                "boto3_client_cpu_per_stream_ms": round(boto3_floor, 2),
                "sync_per_request": sync_cpu,
            },
        ),
        peers_report.row(
            "peak_memory",
            "peak memory",
            "MiB (VmHWM, largest server process)",
            {"value": max(ours_peaks.values())},
            {route: {"value": max(litellm_peaks.values())} for route in peers_report.PEER_ROUTES},
            detail={
                "ours_handler_processes_mib": ours_peaks,
                "ours_front_process_mib": front_peak,
                "litellm_processes_mib": litellm_peaks,
                "burst": {"concurrent": args.burst, "errors": burst_errors},
            },
        ),
    ]
    off_machine = sorted(ip for ip in remote if not is_loopback(ip))
    extra = {
        "model_id": MODEL_ID,
        "stream_events": events,
        "baseline": "direct boto3 to the same emulator, interleaved round by round",
        "litellm_remote_addresses": sorted(remote),
        "litellm_off_machine_connections": off_machine,
    }
    if off_machine:
        raise SystemExit(f"bench-peers: the LiteLLM proxy connected off this machine: {off_machine}")
    direct_sync = _absolute(sync["direct"])
    direct_total = _absolute([t for _, t, _ in total["direct"]])
    notes = [
        f"Direct boto3 (the floor): sync p50 {direct_sync['p50']:.1f} ms, p99 {direct_sync['p99']:.1f} ms; "
        f"stream total p50 {direct_total['p50']:.1f} ms. Rounds: sync {args.sync_rounds}, first byte "
        f"{args.stream_rounds}, total {args.total_rounds}; each round runs every route once, order rotated.",
        "This gateway: the local stack's API Gateway stand-in (an HTTP hop and, for sync, a process hop to a "
        f"Lambda-like handler process; {args.concurrency} of them), model `{MODEL_ID}` as target `{TARGET}`.",
        "LiteLLM: one proxy process (uvicorn, no database, master key), pass-through "
        "`/bedrock/model/{name}/invoke[-with-response-stream]` and `/chat/completions` (`bedrock/invoke/`), "
        "Bedrock runtime endpoint at the same emulator; no connection left 127.0.0.1.",
        "Server CPU: utime + stime from /proc over back-to-back streams, minus the idle rate (ours: the front "
        "process that serves the stream app plus the handler processes; LiteLLM: the proxy process). "
        f"A boto3 client alone spends {boto3_floor:.1f} ms of CPU to read such a stream.",
        "Peak memory: VmHWM of the largest server process after the run and a burst of "
        f"{args.burst} concurrent requests per route (ours: the Lambda-like handler processes, one request at a "
        f"time each as in Lambda; the local front process, which also holds moto and the stand-in, "
        f"peaked at {front_peak:.0f} MiB).",
    ]
    if burst_errors:
        notes.append(f"Burst errors: {burst_errors}")
    return rows, extra, notes


if __name__ == "__main__":
    sys.exit(main())
