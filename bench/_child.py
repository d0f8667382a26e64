"""Measurements that must run in a fresh process: ``python -m bench._child MODE --out FILE ...``.

Started by :func:`bench.common.run_child`. Nothing but the standard library is imported before the
timed part of a cold-start mode, and the same preamble runs for the measured path and its baseline.
Each mode writes one JSON document to ``--out``; handlers' own logs go to /dev/null (in Lambda they
go to CloudWatch through stdout, which costs the same).
"""

import time

T_START = time.time()  # first statement after the interpreter is up

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

MODEL_ID = "global.anthropic.claude-sonnet-4-6"  # the default config's claude target
BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 400,
    "messages": [{"role": "user", "content": "write an essay for living on mars in 1000 words"}],
}
BODY_BYTES = json.dumps(BODY, separators=(",", ":")).encode()


class Context:
    """Enough of the Lambda context for Powertools (kept here: importing devstack would be timed)."""

    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 512
    aws_request_id = "bench-request"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def _quiet() -> None:
    sys.stdout = open(os.devnull, "w")


def _maxrss_mb() -> float:
    """This process's peak RSS in MiB.

    Linux's ``ru_maxrss`` survives fork+exec: a child started by a big parent reports the parent's
    high-water mark. ``VmHWM`` belongs to the process's own address space, so it is read first.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _sqs_record(job_id: str, body: dict | None = None) -> dict:
    message = {"jobId": job_id, "target": "claude", "body": body or BODY}
    now = str(int(time.time() * 1000))
    return {
        "messageId": f"m-{job_id}",
        "receiptHandle": f"rh-{job_id}",
        "body": json.dumps(message),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now,
            "SenderId": "bench",
            "ApproximateFirstReceiveTimestamp": now,
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bedrock-gateway-jobs",
        "awsRegion": "us-east-1",
    }


def _timings(t_imported: float, t_done: float, spawned_at: float) -> dict:
    return {
        "from_spawn_ms": (t_done - spawned_at) * 1000,
        "from_start_ms": (t_done - T_START) * 1000,
        "startup_ms": (T_START - spawned_at) * 1000,
        "import_ms": (t_imported - T_START) * 1000,
        "first_call_ms": (t_done - t_imported) * 1000,
    }


# ---- cold starts: import (or client creation) plus the first call ----


def cold_sync(args) -> dict:
    _quiet()
    import bedrock_gateway.handlers.api as api

    t_imported = time.time()
    with open(args.event) as f:
        event = json.load(f)
    result = api.handler(event, Context())
    t_done = time.time()
    assert result["statusCode"] == 200, result
    return _timings(t_imported, t_done, args.spawned_at)


def cold_boto3_invoke(args) -> dict:
    _quiet()
    import boto3

    client = boto3.client("bedrock-runtime")
    t_imported = time.time()
    response = client.invoke_model(
        modelId=MODEL_ID, body=BODY_BYTES, contentType="application/json", accept="application/json"
    )
    response["body"].read()
    t_done = time.time()
    return _timings(t_imported, t_done, args.spawned_at)


#: uvicorn's settings in the stream function (infra/lambda_asset.py UVICORN_OPTIONS, as Config arguments;
#: tests/bench checks they agree).
UVICORN_CONFIG = {
    "loop": "asyncio",
    "http": "h11",
    "ws": "none",
    "lifespan": "off",
    "server_header": False,
    "access_log": False,
    "log_level": "warning",
}


def _serve_stream_app():
    """uvicorn serving the stream app on a free port, in a thread, as the Lambda Web Adapter runs it."""
    import socket
    import threading

    import uvicorn
    from bedrock_gateway.handlers.stream_lambda import app

    # proto=IPPROTO_TCP, as `uvicorn --port` gets from getaddrinfo in Lambda: asyncio sets TCP_NODELAY on
    # accepted connections only then. With proto 0, Nagle + the client's delayed ACK hold some frames ~40 ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    # Kept-alive connections outlast the pauses between the bench's requests (not a cold-start matter).
    server = uvicorn.Server(uvicorn.Config(app, **UVICORN_CONFIG, timeout_keep_alive=30))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("stream app did not start")
        time.sleep(0.001)
    return server, thread, sock.getsockname()[1]


def cold_stream(args) -> dict:
    _quiet()
    import http.client

    server, _thread, port = _serve_stream_app()
    t_imported = time.time()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(
        "POST", "/v1/targets/claude/stream", body=BODY_BYTES, headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    payload = response.read()
    t_done = time.time()
    assert response.status == 200 and b"event: done" in payload, payload[:500]
    server.should_exit = True
    return _timings(t_imported, t_done, args.spawned_at)


def cold_boto3_stream(args) -> dict:
    _quiet()
    import boto3

    client = boto3.client("bedrock-runtime")
    t_imported = time.time()
    response = client.invoke_model_with_response_stream(
        modelId=MODEL_ID, body=BODY_BYTES, contentType="application/json", accept="application/json"
    )
    chunks = sum(1 for event in response["body"] if "chunk" in event)
    t_done = time.time()
    assert chunks > 0
    return _timings(t_imported, t_done, args.spawned_at)


def cold_worker(args) -> dict:
    _quiet()
    import bedrock_gateway.handlers.worker as worker

    t_imported = time.time()
    result = worker.handler({"Records": [_sqs_record(args.job_prefix)]}, Context())
    t_done = time.time()
    assert not result.get("batchItemFailures"), result
    return _timings(t_imported, t_done, args.spawned_at)


# ---- after a SnapStart restore: priming done before the snapshot, then only what a restore leaves ----


def _restore_timings(t_primed: float, t_done: float, again) -> dict:
    """From the primed state (the snapshot) to the first response; ``again()``: the same request once
    more, warm, for what the first one still pays beyond it."""
    started = time.time()
    again()
    return {
        "init_and_priming_ms": (t_primed - T_START) * 1000,
        "restore_ms": (t_done - t_primed) * 1000,
        "warm_ms": (time.time() - started) * 1000,
    }


def restore_sync(args) -> dict:
    """The sync handler's init and before-snapshot priming, untimed; then the after-restore hooks and
    the first invoke."""
    _quiet()
    import bedrock_gateway.handlers.api as api
    from bedrock_gateway import snapstart

    snapstart.before_snapshot()
    with open(args.event) as f:
        event = json.load(f)  # delivered by Lambda after the restore: not the function's work
    t_primed = time.time()
    snapstart.after_restore()
    result = api.handler(event, Context())
    t_done = time.time()
    assert result["statusCode"] == 200, result
    return _restore_timings(t_primed, t_done, lambda: api.handler(event, Context()))


def restore_boto3_invoke(args) -> dict:
    """A bare boto3 function with its client built before the snapshot: the first call."""
    _quiet()
    import boto3

    client = boto3.client("bedrock-runtime")

    def call() -> None:
        response = client.invoke_model(
            modelId=MODEL_ID, body=BODY_BYTES, contentType="application/json", accept="application/json"
        )
        response["body"].read()

    t_primed = time.time()
    call()
    t_done = time.time()
    return _restore_timings(t_primed, t_done, call)


def restore_stream(args) -> dict:
    """The stream app under uvicorn, primed through the adapter's before-snapshot hook path; then, as
    the adapter does after a restore, the after-restore hook path, the readiness check and the first
    stream (each on a new connection: the adapter keeps none across a restore)."""
    _quiet()
    import http.client

    from bedrock_gateway import snapstart
    from bedrock_gateway.edge.routes import STREAM_READINESS_PATH

    server, _thread, port = _serve_stream_app()

    def request(method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = response.read()
        connection.close()
        return response.status, payload

    assert request("POST", snapstart.BEFORE_SNAPSHOT_PATH)[0] == 204
    t_primed = time.time()
    assert request("POST", snapstart.AFTER_RESTORE_PATH)[0] == 204
    assert request("GET", STREAM_READINESS_PATH)[0] == 200
    status, payload = request("POST", "/v1/targets/claude/stream", BODY_BYTES)
    t_done = time.time()
    assert status == 200 and b"event: done" in payload, payload[:500]
    result = _restore_timings(
        t_primed, t_done, lambda: request("POST", "/v1/targets/claude/stream", BODY_BYTES)
    )
    server.should_exit = True
    return result


def restore_boto3_stream(args) -> dict:
    _quiet()
    import boto3

    client = boto3.client("bedrock-runtime")

    def stream() -> int:
        response = client.invoke_model_with_response_stream(
            modelId=MODEL_ID, body=BODY_BYTES, contentType="application/json", accept="application/json"
        )
        return sum(1 for event in response["body"] if "chunk" in event)

    t_primed = time.time()
    chunks = stream()
    t_done = time.time()
    assert chunks > 0
    return _restore_timings(t_primed, t_done, stream)


def restore_worker(args) -> dict:
    _quiet()
    import bedrock_gateway.handlers.worker as worker
    from bedrock_gateway import snapstart

    snapstart.before_snapshot()
    event = {"Records": [_sqs_record(args.job_prefix)]}
    t_primed = time.time()
    snapstart.after_restore()
    result = worker.handler(event, Context())
    t_done = time.time()
    assert not result.get("batchItemFailures"), result
    again = {"Records": [_sqs_record(f"{args.job_prefix}-again")]}
    return _restore_timings(t_primed, t_done, lambda: worker.handler(again, Context()))


# ---- warm measurements ----


def sync_overhead(args) -> dict:
    """The sync handler on API Gateway proxy events (``args.path``: ``/v1`` or the Bedrock-compatible
    route) vs boto3 InvokeModel, interleaved, same process."""
    _quiet()
    import bedrock_gateway.handlers.api as api
    import boto3
    from devstack.apigw import build_event

    direct = boto3.client("bedrock-runtime")
    headers = [("Content-Type", "application/json"), ("Accept", "*/*"), ("Host", "bench")]
    body = BODY_BYTES

    cpu = {"handler": [], "direct": []}

    def through_handler() -> float:
        event = build_event("POST", args.path, "", headers, body)  # API Gateway's work
        started, cpu_started = time.perf_counter(), time.process_time()
        result = api.handler(event, Context())
        elapsed = time.perf_counter() - started
        cpu["handler"].append((time.process_time() - cpu_started) * 1000)
        assert result["statusCode"] == 200, result
        return elapsed * 1000

    def direct_call() -> float:
        started, cpu_started = time.perf_counter(), time.process_time()
        response = direct.invoke_model(
            modelId=MODEL_ID, body=body, contentType="application/json", accept="application/json"
        )
        response["body"].read()
        cpu["direct"].append((time.process_time() - cpu_started) * 1000)
        return (time.perf_counter() - started) * 1000

    for _ in range(args.warmup):
        through_handler()
        direct_call()
    handler_ms, direct_ms = [], []
    for index in range(args.samples):
        if index % 2:
            handler_ms.append(through_handler())
            direct_ms.append(direct_call())
        else:
            direct_ms.append(direct_call())
            handler_ms.append(through_handler())
    skip = args.warmup
    return {
        "handler_ms": handler_ms,
        "direct_ms": direct_ms,
        "maxrss_mb": _maxrss_mb(),
        "handler_cpu_ms": cpu["handler"][skip:],
        "direct_cpu_ms": cpu["direct"][skip:],
    }


def worker_batch(args) -> dict:
    """The worker on SQS batches of 10 and of 1 vs one boto3 InvokeModel, interleaved."""
    _quiet()
    import bedrock_gateway.handlers.worker as worker
    import boto3

    direct = boto3.client("bedrock-runtime")
    counter = iter(range(1_000_000))

    cpu: dict[int, list[float]] = {1: [], 10: []}

    def batch(size: int) -> float:
        records = [_sqs_record(f"{args.job_prefix}-{next(counter)}") for _ in range(size)]
        started, cpu_started = time.perf_counter(), time.process_time()
        result = worker.handler({"Records": records}, Context())
        elapsed = time.perf_counter() - started
        cpu[size].append((time.process_time() - cpu_started) * 1000)
        assert not result.get("batchItemFailures"), result
        return elapsed * 1000

    def direct_call() -> float:
        started = time.perf_counter()
        response = direct.invoke_model(
            modelId=MODEL_ID, body=BODY_BYTES, contentType="application/json", accept="application/json"
        )
        response["body"].read()
        return (time.perf_counter() - started) * 1000

    for _ in range(args.warmup):
        batch(10)
        batch(1)
        direct_call()
    results = {"batch10_ms": [], "batch1_ms": [], "direct_ms": []}
    steps = [("batch10_ms", lambda: batch(10)), ("batch1_ms", lambda: batch(1)), ("direct_ms", direct_call)]
    for index in range(args.samples):
        for name, step in steps[index % 3 :] + steps[: index % 3]:
            results[name].append(step())
    results["batch10_cpu_ms"] = cpu[10][args.warmup :]
    results["batch1_cpu_ms"] = cpu[1][args.warmup :]
    results["dynamodb_50_ms"] = [_dynamodb_burst() for _ in range(3)]
    for _ in range(args.load_batches):  # more load before reading peak RSS
        batch(10)
    results["maxrss_mb"] = _maxrss_mb()
    results["jobs"] = next(counter)
    return results


def _dynamodb_burst(threads: int = 10, calls: int = 5) -> float:
    """What the local DynamoDB stand-in costs: 10 threads x 5 GetItem, as a batch of 10 jobs makes."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    client = boto3.client("dynamodb")
    table = os.environ["JOBS_TABLE_NAME"]
    client.get_item(TableName=table, Key={"jobId": {"S": "warm"}})

    def work(_):
        for _ in range(calls):
            client.get_item(TableName=table, Key={"jobId": {"S": "nothing"}}, ConsistentRead=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    return (time.perf_counter() - started) * 1000


def rss_sync(args) -> dict:
    """Peak RSS of one sync handler process after ``--requests`` mixed requests, one at a time (as Lambda)."""
    _quiet()
    import bedrock_gateway.handlers.api as api
    from devstack.apigw import build_event

    headers = [("Content-Type", "application/json")]
    body = BODY_BYTES
    mix = [
        ("POST", "/v1/targets/claude/invoke", body, 200),
        ("POST", "/v1/targets/claude/invoke", body, 200),
        (
            "POST",
            "/v1/targets/haiku/invoke",
            json.dumps(
                {
                    "anthropic_version": "bedrock-2023-05-31",
                    "max_tokens": 50,
                    "messages": [{"role": "user", "content": "hi"}],
                }
            ).encode(),
            200,
        ),
        ("POST", "/model/claude/invoke", body, 200),
        ("GET", "/v1/targets", b"", 200),
        ("GET", "/v1/health", b"", 200),
        ("POST", "/v1/targets/nope/invoke", body, 404),
        ("POST", "/v1/targets/claude/invoke", b"{broken", 400),
        ("POST", "/v1/jobs", None, 202),
        ("GET", "/v1/jobs/unknown-job", b"", 404),
    ]
    statuses: dict[str, int] = {}
    for index in range(args.requests):
        method, path, payload, expected = mix[index % len(mix)]
        if payload is None:
            payload = json.dumps(
                {"target": "claude", "jobId": f"{args.job_prefix}-{index}", "body": BODY}
            ).encode()
        result = api.handler(build_event(method, path, "", headers, payload), Context())
        assert result["statusCode"] == expected, (path, result)
        statuses[str(result["statusCode"])] = statuses.get(str(result["statusCode"]), 0) + 1
    return {"maxrss_mb": _maxrss_mb(), "requests": args.requests, "statuses": statuses}


def stream_server(args) -> dict:
    """Serve the stream app until stdin closes; prints ``PORT n`` once listening; reports peak RSS."""
    real_stdout = sys.stdout
    _quiet()
    server, thread, port = _serve_stream_app()
    print(f"PORT {port}", file=real_stdout, flush=True)
    sys.stdin.read()  # the parent closes stdin when it is done
    result = {"maxrss_mb": _maxrss_mb()}
    server.should_exit = True
    thread.join(10)
    return result


MODES = {
    "cold-sync": cold_sync,
    "cold-boto3-invoke": cold_boto3_invoke,
    "cold-stream": cold_stream,
    "cold-boto3-stream": cold_boto3_stream,
    "cold-worker": cold_worker,
    "restore-sync": restore_sync,
    "restore-boto3-invoke": restore_boto3_invoke,
    "restore-stream": restore_stream,
    "restore-boto3-stream": restore_boto3_stream,
    "restore-worker": restore_worker,
    "sync-overhead": sync_overhead,
    "worker-batch": worker_batch,
    "rss-sync": rss_sync,
    "stream-server": stream_server,
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench._child")
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("--out", required=True)
    parser.add_argument("--spawned-at", type=float, default=T_START)
    parser.add_argument("--event")
    parser.add_argument("--job-prefix", default="bench")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--load-batches", type=int, default=5)
    parser.add_argument("--path", default="/v1/targets/claude/invoke", help="sync-overhead: the route")
    args = parser.parse_args()
    result = MODES[args.mode](args)
    with open(args.out + ".part", "w") as f:
        json.dump(result, f)
    os.replace(args.out + ".part", args.out)
    sys.stdout.flush()
    os._exit(0)  # do not wait for the handlers' non-daemon threads (executor pools) to wind down


if __name__ == "__main__":
    sys.exit(main())
