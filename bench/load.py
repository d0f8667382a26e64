"""``make load``: concurrent streams and sync calls against the local stack; zero errors, p50/p99.

Starts the local stack (``DevStack``: the API Gateway stand-in with the real sync handler in
Lambda-like processes, the stream app, the Bedrock emulator with a fixed model latency), then a
client in its own process fires two bounded phases, each all at once:

1. ``--streams`` concurrent ``POST /v1/targets/claude/stream`` (every chunk and the ``done`` event
   must arrive; the chunk count must match what the stream reports);
2. ``--sync`` concurrent ``POST /v1/targets/claude/invoke`` (200 with the model's JSON body).

Any other status, transport error, timeout, missing chunk or ``error`` event counts as an error.
Prints one line per phase and a summary, writes ``.bench/load.json``, and exits 1 unless every
request succeeded. Everything talks to 127.0.0.1 only; the run stops by itself (``--timeout``).

Latencies include queueing: locally the sync handler runs in ``--concurrency`` processes (a
reserved concurrency), where AWS would give each request its own execution environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import BENCH_DIR, REPO, child_env, percentile

BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 400,
    "messages": [{"role": "user", "content": "write an essay for living on mars in 1000 words"}],
}


# ---- the client (runs in its own process) ----


async def _stream_one(client, index: int) -> dict:
    started = time.perf_counter()
    result = {"ok": False, "ms": None, "ttfb_ms": None, "chunks": 0, "error": None}
    try:
        async with client.stream(
            "POST", "/v1/targets/claude/stream", json=BODY, headers={"Accept": "text/event-stream"}
        ) as response:
            if response.status_code != 200:
                await response.aread()
                result["error"] = f"status {response.status_code}: {response.text[:200]}"
                return result
            buffer, done = b"", None
            async for piece in response.aiter_raw():
                if result["ttfb_ms"] is None:
                    result["ttfb_ms"] = (time.perf_counter() - started) * 1000
                buffer += piece
                *frames, buffer = buffer.split(b"\n\n")
                for frame in frames:
                    if frame.startswith(b"event: chunk\n"):
                        result["chunks"] += 1
                    elif frame.startswith(b"event: done\n"):
                        done = json.loads(frame.split(b"data: ", 1)[1])
                    elif frame.startswith(b"event: error\n"):
                        result["error"] = "error event: " + frame.decode("utf-8", "replace")[:200]
            if result["error"] is None and done is None:
                result["error"] = "stream ended without a done event"
            elif result["error"] is None and done.get("chunks") != result["chunks"]:
                result["error"] = (
                    f"received {result['chunks']} chunks, the stream reported {done.get('chunks')}"
                )
    except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
        result["error"] = f"{type(exc).__name__}: {exc}"[:200]
    result["ms"] = (time.perf_counter() - started) * 1000
    result["ok"] = result["error"] is None
    return result


async def _sync_one(client, index: int) -> dict:
    started = time.perf_counter()
    result = {"ok": False, "ms": None, "error": None}
    try:
        response = await client.post("/v1/targets/claude/invoke", json=BODY)
        if response.status_code != 200:
            result["error"] = f"status {response.status_code}: {response.text[:200]}"
        elif "content" not in response.json():
            result["error"] = "no content in the body"
    except Exception as exc:  # noqa: BLE001
        result["error"] = f"{type(exc).__name__}: {exc}"[:200]
    result["ms"] = (time.perf_counter() - started) * 1000
    result["ok"] = result["error"] is None
    return result


def _phase(name: str, results: list[dict], seconds: float) -> dict:
    latencies = [r["ms"] for r in results if r["ok"]]
    errors = [r["error"] for r in results if not r["ok"]]
    phase = {
        "phase": name,
        "requests": len(results),
        "ok": len(latencies),
        "errors": len(errors),
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "wall_s": round(seconds, 2),
        "per_s": round(len(results) / seconds, 1) if seconds else None,
        "error_samples": sorted(set(errors))[:5],
    }
    ttfbs = [r["ttfb_ms"] for r in results if r.get("ttfb_ms") is not None and r["ok"]]
    if ttfbs:
        phase.update(
            ttfb_p50_ms=round(percentile(ttfbs, 50), 1),
            ttfb_p99_ms=round(percentile(ttfbs, 99), 1),
            chunks=sum(r["chunks"] for r in results),
        )
    return phase


async def run_client(url: str, streams: int, sync: int, timeout: float) -> list[dict]:
    """Both phases against ``url``; each phase starts all its requests at once."""
    import httpx

    limits = httpx.Limits(
        max_connections=max(streams, sync) + 10, max_keepalive_connections=max(streams, sync) + 10
    )
    phases = []
    async with httpx.AsyncClient(
        base_url=url, limits=limits, timeout=httpx.Timeout(timeout, connect=30)
    ) as client:
        for name, count, one in (("streams", streams, _stream_one), ("sync", sync, _sync_one)):
            if count <= 0:
                continue
            started = time.perf_counter()
            results = await asyncio.wait_for(asyncio.gather(*(one(client, i) for i in range(count))), timeout)
            phases.append(_phase(name, results, time.perf_counter() - started))
    return phases


# ---- the driver ----


def _line(phase: dict) -> str:
    text = (
        f"load: {phase['phase']:<7} {phase['requests']} concurrent, {phase['errors']} errors, "
        f"p50 {phase['p50_ms']} ms, p99 {phase['p99_ms']} ms, max {phase['max_ms']} ms, "
        f"{phase['per_s']}/s over {phase['wall_s']} s"
    )
    if "ttfb_p50_ms" in phase:
        text += f"; first byte p50 {phase['ttfb_p50_ms']} ms, p99 {phase['ttfb_p99_ms']} ms; {phase['chunks']} chunks"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=200, help="concurrent streams")
    parser.add_argument("--sync", type=int, default=500, help="concurrent sync calls")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="sync handler processes (local reserved concurrency)"
    )
    parser.add_argument("--ttft-ms", type=float, default=100, help="emulated model time to first token")
    parser.add_argument("--chunk-delay-ms", type=float, default=20, help="emulated delay between chunks")
    parser.add_argument("--output-tokens", type=int, default=10, help="tokens (= chunks) per answer")
    parser.add_argument(
        "--timeout", type=float, default=240, help="seconds a phase may take before it is stopped"
    )
    parser.add_argument("--out", default=str(BENCH_DIR / "load.json"))
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)  # internal: be the client process
    args = parser.parse_args(argv)

    if args.client:
        phases = asyncio.run(run_client(args.client, args.streams, args.sync, args.timeout))
        Path(args.out).write_text(json.dumps(phases))
        return 0

    from devstack.stack import DevStack

    from bench.common import StackOutput, configure_emulator

    started = time.monotonic()
    stack_log = BENCH_DIR / "load-stack.log"
    stack_log.unlink(missing_ok=True)
    client_out = BENCH_DIR / "tmp" / f"load-client-{os.getpid()}.json"
    client_out.parent.mkdir(parents=True, exist_ok=True)
    client_out.unlink(missing_ok=True)
    with (
        StackOutput(stack_log) as out,
        DevStack(
            port=0,
            emulator_port=0,
            https_port=None,
            concurrency=args.concurrency,
            worker_concurrency=1,
            log_dir=".local/logs/load",
        ) as stack,
    ):
        configure_emulator(
            stack.emulator.url,
            "global.anthropic.claude-sonnet-4-6",  # the default config's claude target
            ttft_ms=args.ttft_ms,
            chunk_delay_ms=args.chunk_delay_ms,
            output_tokens=args.output_tokens,
        )
        out.say(
            f"load: local stack on {stack.url} ({args.concurrency} sync handler processes); model: first token "
            f"{args.ttft_ms:.0f} ms, {args.output_tokens} chunks {args.chunk_delay_ms:.0f} ms apart; "
            f"{args.streams} streams, then {args.sync} sync calls"
        )
        command = [
            sys.executable,
            "-m",
            "bench.load",
            "--client",
            stack.url,
            "--streams",
            str(args.streams),
            "--sync",
            str(args.sync),
            "--timeout",
            str(args.timeout),
            "--out",
            str(client_out),
        ]
        try:
            completed = subprocess.run(
                command,
                cwd=REPO,
                env=child_env(lambda_like=False),
                capture_output=True,
                text=True,
                timeout=2 * args.timeout + 60,
            )
            failure = None if completed.returncode == 0 else completed.stderr[-2000:]
        except subprocess.TimeoutExpired:
            failure = "the client did not finish in time"
    phases = json.loads(client_out.read_text()) if failure is None and client_out.exists() else []
    client_out.unlink(missing_ok=True)
    if failure:
        print(f"load: client failed: {failure}")
    for phase in phases:
        print(_line(phase))
        for sample in phase["error_samples"]:
            print(f"  error: {sample}")
    requested = (args.streams > 0) + (args.sync > 0)
    errors = sum(p["errors"] for p in phases)
    total = sum(p["requests"] for p in phases)
    ok = failure is None and len(phases) == requested and errors == 0
    document = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {k: v for k, v in vars(args).items() if k not in ("client", "out")},
        "phases": phases,
        "errors": errors,
        "ok": ok,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(document, indent=2) + "\n")
    print(
        f"load: {total} requests, errors={errors}, {time.monotonic() - started:.0f}s -> {'OK' if ok else 'FAILED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
