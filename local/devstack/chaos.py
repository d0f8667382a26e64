"""``make chaos``: the no-loss test. Jobs through the whole local stack while things fail.

Sends N jobs to a local stack (API, SQS + DLQ, DynamoDB, S3, the worker and the DLQ consumer in
Lambda-like processes fed by event-source pollers), half through ``POST /v1/jobs`` and half straight
to the jobs queue as a producer would (``--direct-share``: the worker makes those jobs' records),
with the model answering in 200-500 ms, while the emulator throttles a share of calls and fails
another share with a permanent error. ``--crash`` adds every failure of the worker's own, each also
a switch of its own:

- ``--kill-every A-B``: SIGKILL a busy worker process every A to B seconds, at a random point of
  its batch; ``--kill-at-write-rate``: kill the worker that is writing a job's outcome, before or
  after DynamoDB applied it (the model has answered; the outcome may or may not be recorded);
- ``--slow-jobs``: jobs whose model call outlives the worker's timeout (``--worker-timeout``);
- ``--store-throttle-rate``, ``--store-error-rate``, ``--store-timeout-rate``: DynamoDB and S3
  throttling, 500s and timeouts on the worker's calls (a fault proxy in front of moto);
- ``--reset-rate``, ``--truncate-rate``: the emulator resets the connection, or ends it early, in
  the middle of a model answer it has produced (and billed);
- ``--duplicate-rate``: a message delivered twice at once, to two worker processes.

Everything random comes from ``--seed``: a failing run can be replayed (as far as the timing of a
concurrent system allows). It waits until every job is final, lets late deliveries drain, then
counts from independent sources: the job table (every job's final state), DynamoDB's own change
stream of that table (a record changed after it was final: ``conflicting``), the DLQ (dead-lettered
messages), the emulator's per-body counters (model answers produced per job: ``extra_invocations``
beyond one) and the local Lambda's record of invocations that died (killed or timed out):

    sent= succeeded= failed= dead_lettered= lost= conflicting= extra_invocations= explained_extra= unexplained_extra=

An extra invocation is explained when an invocation holding that job died (killed, timed out)
before the job was final, or the model's answer to it was broken on the wire: an at-least-once queue
cannot avoid those. Exits 1 unless lost, conflicting and unexplained_extra are 0 and every job is
final. Bounded: gives up after ``--timeout`` seconds and reports what it has. A second line before
the summary says what was injected (``faults: kills= timeouts= ...``).
"""

from __future__ import annotations

import argparse
import calendar
import hashlib
import json
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from bedrock_gateway.core.callers import ANONYMOUS, from_sqs_message
from bedrock_gateway.core.jobs.contract import job_key
from bedrock_gateway.core.jobs.messages import MalformedMessage, read_job_message
from botocore.exceptions import BotoCoreError, ClientError

from devstack.aws import MOTO_SENDER_ID

SLOW_TARGET, SLOW_MODEL = "llama", "us.meta.llama3-3-70b-instruct-v1:0"
FINAL = ("succeeded", "failed")
#: Whose jobs these are: the jobs API's caller on the local stack (no authentication on /v1/jobs).
#: Records and results are kept under the job id inside that caller's namespace.
CALLER = ANONYMOUS
#: The worker's DynamoDB/S3 read timeout when the store fails on purpose (10 s in AWS): short enough
#: that a held call costs little of an 8 s invocation, long enough for moto on a loaded machine.
STORE_READ_TIMEOUT = 3.0
#: Crash defaults: what ``--crash`` turns on, each overridable by its own switch.
CRASH = {
    "kill_every": "3-9",
    "kill_at_write_rate": 0.005,
    "slow_jobs": -1,  # one per 2,000 jobs, at least one
    "store_throttle_rate": 0.01,
    "store_error_rate": 0.005,
    "store_timeout_rate": 0.002,
    "reset_rate": 0.01,
    "truncate_rate": 0.01,
    "duplicate_rate": 0.02,
}


def job_request(index: int, slow: bool) -> tuple[str, dict]:
    """A unique body per job (the emulator's per-body counters then identify each job's calls);
    200-500 ms of model time, from the body's token budget. Slow jobs go to a model that answers
    only after the worker's timeout."""
    if slow:
        return SLOW_TARGET, {"prompt": f"chaos job {index}: a slow answer", "max_gen_len": 20}
    return "claude", {
        "prompt": f"\n\nHuman: chaos job {index}: describe one Mars habitat\n\nAssistant:",
        "max_tokens_to_sample": 5 + index * 7919 % 36,
    }


def sent_body(target: str, body: dict) -> str:
    """The sha256 of the bytes the worker sends to Bedrock for ``body`` (computed by the worker's own code)."""
    from bedrock_gateway import settings
    from bedrock_gateway.core.prepare import prepare_job_body

    return hashlib.sha256(prepare_job_body(settings.targets(), target, body).body).hexdigest()


def _range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    return float(low), float(high or low)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261125, help="every random choice derives from it")
    parser.add_argument(
        "--timeout", type=float, help="seconds before giving up (default: 120 + 0.15 per job)"
    )
    parser.add_argument("--workers", type=int, default=4, help="worker processes = pollers")
    parser.add_argument("--backlog", type=int, default=300, help="most jobs posted but not yet final")
    parser.add_argument(
        "--direct-share",
        type=float,
        default=0.5,
        help="share of jobs sent straight to the queue, not the API",
    )
    parser.add_argument("--worker-timeout", type=float, default=8, help="the worker function's timeout (s)")
    parser.add_argument("--max-receive-count", type=int, default=5)
    parser.add_argument("--throttle-rate", type=float, default=0.30, help="Bedrock throttling")
    parser.add_argument(
        "--permanent-error-rate", type=float, default=0.05, help="Bedrock ValidationException"
    )
    parser.add_argument("--crash", action="store_true", help="all of the worker's own failures below at once")
    parser.add_argument("--kill-every", help="A-B: SIGKILL a busy worker every A to B seconds")
    parser.add_argument("--kill-at-write-rate", type=float, help="kill the worker writing an outcome")
    parser.add_argument("--slow-jobs", type=int, help="jobs whose model call outlives the worker timeout")
    parser.add_argument("--store-throttle-rate", type=float, help="DynamoDB/S3 throttling")
    parser.add_argument("--store-error-rate", type=float, help="DynamoDB/S3 500s")
    parser.add_argument("--store-timeout-rate", type=float, help="DynamoDB/S3 calls that never answer")
    parser.add_argument("--reset-rate", type=float, help="model answers reset mid-response")
    parser.add_argument("--truncate-rate", type=float, help="model answers cut short")
    parser.add_argument("--duplicate-rate", type=float, help="messages delivered twice at once")
    args = parser.parse_args(argv)
    for name, default in CRASH.items():
        if getattr(args, name) is None:
            setattr(args, name, default if args.crash else (None if name == "kill_every" else 0))
    if args.slow_jobs < 0:
        args.slow_jobs = max(1, args.jobs // 2000)
    if args.timeout is None:
        args.timeout = 120 + 0.15 * args.jobs
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bedrock_gateway.core.jobs.store import LEASE_MARGIN_MS

    from devstack.aws import QueueSettings
    from devstack.stack import DevStack
    from devstack.store_faults import StoreFaults

    rng = random.Random(args.seed)
    queue = QueueSettings(
        # As the deployed stack requires: a redelivery never meets a dead delivery's live lease.
        visibility_timeout=int(args.worker_timeout + LEASE_MARGIN_MS / 1000 + 0.999),
        max_receive_count=args.max_receive_count,
        retry_base_seconds=0.5,
        worker_timeout=args.worker_timeout,
        # The DLQ consumer looks at each message it keeps once a minute: often enough for a run, rare
        # enough that re-checking a few hundred kept messages never starves the new ones.
        dead_letter_hold=60,
    )
    store_faults = StoreFaults(
        throttle_rate=args.store_throttle_rate,
        error_rate=args.store_error_rate,
        timeout_rate=args.store_timeout_rate,
        kill_at_write_rate=args.kill_at_write_rate,
        hold_seconds=STORE_READ_TIMEOUT + 0.5,
        seed=args.seed,
    )
    started = time.monotonic()
    with DevStack(
        port=0,
        emulator_port=0,
        https_port=None,
        concurrency=4,  # API processes: posting must keep up with the workers
        worker_concurrency=args.workers,
        queue_settings=queue,
        log_dir=".local/logs/chaos",
        store_faults=store_faults,
        store_read_timeout=STORE_READ_TIMEOUT if store_faults.active else None,
        duplicate_rate=args.duplicate_rate,
        seed=args.seed,
        streams=True,
        aws_process=True,
    ) as stack:
        emulator = stack.emulator
        emulator.configure(
            model="*",
            ttft_ms=180,
            chunk_delay_ms=8,
            throttle_rate=args.throttle_rate,
            reset_rate=args.reset_rate,
            truncate_rate=args.truncate_rate,
            seed=args.seed,
            error={
                "type": "ValidationException",
                "rate": args.permanent_error_rate,
                "message": "Malformed input request: chaos says no",
            },
        )
        emulator.configure(model=SLOW_MODEL, ttft_ms=(args.worker_timeout + 4) * 1000)
        slow = set(rng.sample(range(args.jobs), min(args.slow_jobs, args.jobs)))
        jobs = {f"chaos-{i:05d}": job_request(i, i in slow) for i in range(args.jobs)}
        direct_rng = random.Random(f"{args.seed}-direct")
        direct = {job_id for job_id in jobs if direct_rng.random() < args.direct_share}
        killer = Killer(stack.worker_function, args.kill_every, random.Random(rng.random())).start()
        stream = JobStream(stack)
        stream.report = lambda: (
            f"{time.monotonic() - started:.0f}s: {stack.poller.batches} batches "
            f"({stack.poller.busy_seconds / max(1, stack.poller.batches):.1f}s each), "
            f"{len(stack.worker_function.deaths)} worker deaths"
        )
        stream.start()
        print(f"chaos: {describe(args)}", flush=True)
        sqs = (stack.aws.client("sqs"), stack.aws.env["JOBS_QUEUE_URL"])
        accepted, refused = post_jobs(stack.url, jobs, stream, args.backlog, direct, sqs)
        print(
            f"chaos: posted {len(accepted)} jobs ({refused} refused; {len(direct)} straight to the queue) "
            f"in {time.monotonic() - started:.1f}s",
            flush=True,
        )
        # A producer's jobs are kept in its own namespace: its IAM identity's (moto's one SenderId).
        producer_scope = from_sqs_message(MOTO_SENDER_ID, None, frozenset()).scope
        by_key = {
            job_key(producer_scope if job_id in direct else CALLER.scope, job_id): jobs[job_id]
            for job_id in accepted
        }
        wait_for_final(stream, list(by_key), started + args.timeout)
        drain(stack, started + args.timeout)
        killer.stop()
        stream.stop()
        report = account(stack, by_key, scan(stack), stream)
        report["refused"] = refused
        batches, duplicates = stack.poller.batches, stack.poller.duplicates
        proxy = dict(stack.store_proxy.counters) if stack.store_proxy else {}
    duration = time.monotonic() - started
    deaths = report.pop("deaths")
    print(f"chaos: done in {duration:.1f}s, {batches} batches", flush=True)
    print(
        "faults: "
        + " ".join(
            f"{k}={v}"
            for k, v in {
                "seed": args.seed,
                "kills": deaths["killed"],
                "timeouts": deaths["timeout"],
                "exits": deaths["exited"],
                "killed_at_write": proxy.get("killed-at-write", 0),
                "store_faults": sum(v for k, v in proxy.items() if k != "killed-at-write"),
                "duplicates": duplicates,
                "broken_answers": report.pop("broken"),
                "bedrock_errors": report.pop("bedrock_errors"),
                "slow_jobs": len(slow),
                "direct": len(direct),
                "refused": refused,
                "dead_lettered_jobs": report.pop("dead_lettered_jobs"),
                "explained_by": report.pop("explained_by"),
                "duration_s": round(duration, 1),
            }.items()
        )
    )
    keys = (
        "sent succeeded failed dead_lettered lost conflicting extra_invocations explained_extra unexplained_extra"
    ).split()
    print(" ".join(f"{key}={report[key]}" for key in keys))
    ok = not (report["lost"] or report["conflicting"] or report["unexplained_extra"] or refused)
    return 0 if ok else 1


def describe(args: argparse.Namespace) -> str:
    faults = [f"throttle {args.throttle_rate:.0%}", f"permanent errors {args.permanent_error_rate:.0%}"]
    for name in (
        "kill_every",
        "kill_at_write_rate",
        "slow_jobs",
        "store_throttle_rate",
        "store_error_rate",
        "store_timeout_rate",
        "reset_rate",
        "truncate_rate",
        "duplicate_rate",
    ):
        value = getattr(args, name)
        if value:
            faults.append(f"{name.replace('_', '-')} {value}")
    return (
        f"{args.jobs} jobs ({args.direct_share:.0%} straight to the queue), worker timeout {args.worker_timeout}s, "
        f"seed {args.seed}; " + ", ".join(faults)
    )


class Killer:
    """SIGKILLs a busy worker process every A-B seconds (``every`` is "A-B"; None: never)."""

    def __init__(self, function, every: str | None, rng: random.Random):
        self.function, self.rng = function, rng
        self.every = _range(every) if every else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-killer", daemon=True)

    def start(self) -> Killer:
        if self.every:
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.rng.uniform(*self.every)):
            self.function.kill(rng=self.rng, reason="random")

    def stop(self) -> None:
        self._stop.set()


def post_jobs(
    url: str,
    jobs: dict[str, tuple[str, dict]],
    stream: JobStream,
    backlog: int,
    direct: set[str],
    sqs: tuple[Any, str],
) -> tuple[list[str], int]:
    """POST every job, or send it straight to the queue when in ``direct`` (``sqs``: the client and
    the queue URL), retrying a failure with the same jobId as a client would, keeping at most
    ``backlog`` jobs sent but not yet final: a steady load, and a queue moto can serve."""
    queue, queue_url = sqs

    def send(job_id: str, request: dict) -> bool:
        if job_id in direct:
            queue.send_message(QueueUrl=queue_url, MessageBody=json.dumps(request))
            return True
        return client.post("/v1/jobs", json=request).status_code in (200, 202)

    def post(item) -> str | None:
        job_id, (target, body) = item
        for attempt in range(5):
            try:
                if send(job_id, {"jobId": job_id, "target": target, "body": body}):
                    return job_id
            except (httpx.HTTPError, BotoCoreError, ClientError):
                pass
            time.sleep(0.2 * 2**attempt)
        return None

    with httpx.Client(base_url=url, timeout=30) as client, ThreadPoolExecutor(16) as pool:
        futures = []
        for index, item in enumerate(jobs.items()):
            while index - stream.final_count() >= backlog:
                time.sleep(0.5)
            futures.append(pool.submit(post, item))
        outcomes = [future.result() for future in futures]
    accepted = [job_id for job_id in outcomes if job_id]
    return accepted, len(outcomes) - len(accepted)


def scan(stack) -> dict[str, dict]:
    """Every job record, read straight from the table."""
    from boto3.dynamodb.types import TypeDeserializer

    dynamodb, deserialize = stack.aws.client("dynamodb"), TypeDeserializer().deserialize
    records, params = {}, {"TableName": stack.aws.env["JOBS_TABLE_NAME"], "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**params)
        for item in page["Items"]:
            record = {k: deserialize(v) for k, v in item.items()}
            records[record["jobId"]] = record
        if "LastEvaluatedKey" not in page:
            return records
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class JobStream:
    """The jobs table's change stream (DynamoDB Streams, from moto), read as it grows: each job's
    latest status, and every change to a record's status or outcome after it was final."""

    def __init__(self, stack):
        from boto3.dynamodb.types import TypeDeserializer

        self._deserialize = TypeDeserializer().deserialize
        self._streams = stack.aws.client("dynamodbstreams")
        table = stack.aws.client("dynamodb").describe_table(TableName=stack.aws.env["JOBS_TABLE_NAME"])
        arn = table["Table"]["LatestStreamArn"]
        self._iterators = [
            self._streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for shard in self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        ]
        self.status: dict[str, str] = {}
        self.changed_after_final: Counter[str] = Counter()
        self._final: set[str] = set()
        self._outcome: dict[str, tuple] = {}  # each job's first final status and outcome
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="chaos-stream", daemon=True)
        self.report = None  # () -> str: what else to say in the progress lines
        self._reported = time.monotonic()

    def start(self) -> JobStream:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop following; one last read takes in everything written so far."""
        self._stop.set()
        self._thread.join(10)
        self.read()

    def _follow(self) -> None:
        while not self._stop.wait(1):
            self.read()
            if self.report and time.monotonic() - self._reported >= 10:
                self._reported = time.monotonic()
                print(
                    f"chaos: {self.report()}; {len(self.status)} jobs recorded, {self.final_count()} final",
                    flush=True,
                )

    def final_count(self) -> int:
        return len(self._final)

    def read(self) -> None:
        """Take in every change made since the last read."""
        with self._lock:
            self._read()

    def _read(self) -> None:
        for index, iterator in enumerate(self._iterators):
            while iterator:
                page = self._streams.get_records(ShardIterator=iterator, Limit=1000)
                iterator = page.get("NextShardIterator")
                for record in page["Records"]:
                    self._take(record["dynamodb"])
                if not page["Records"]:
                    break
            self._iterators[index] = iterator

    def _take(self, change: dict) -> None:
        new = {k: self._deserialize(v) for k, v in change.get("NewImage", {}).items()}
        if not new:
            return
        job_id = new["jobId"]
        outcome = tuple(repr(new.get(k)) for k in ("status", "result", "resultKey", "error", "usage"))
        first = self._outcome.get(job_id)
        if first is not None and outcome != first:  # a write to a final record that changed it
            self.changed_after_final[job_id] += 1
        self.status[job_id] = new.get("status")
        if new.get("status") in FINAL and first is None:
            self._outcome[job_id] = outcome
            self._final.add(job_id)


def wait_for_final(stream: JobStream, job_ids: list[str], deadline: float) -> None:
    """Until every job is succeeded or failed, as the table's change stream tells (or the deadline)."""
    while time.monotonic() < deadline:
        if all(stream.status.get(job_id) in FINAL for job_id in job_ids):
            return
        time.sleep(2)


def queue_depth(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def drain(stack, deadline: float) -> None:
    """Let every message still in the jobs queue be delivered (late duplicates, retries of finished
    jobs): whatever they do to the records must show in the accounts."""
    sqs = stack.aws.client("sqs")
    while time.monotonic() < deadline and queue_depth(sqs, stack.aws.env["JOBS_QUEUE_URL"]):
        time.sleep(1)


def _job_of(record: dict, trusted_senders: frozenset[str]) -> str:
    """The key of the job an SQS event record stands for, as the worker reads it."""
    try:
        return read_job_message(record, trusted_senders)[0].key
    except MalformedMessage as malformed:
        return malformed.key


def _epoch(stamp: str | None) -> float:
    """An ISO ``...Z`` time as epoch seconds (never final: infinitely late)."""
    if not stamp:
        return float("inf")
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def account(stack, jobs: dict[str, tuple[str, dict]], records: dict[str, dict], stream: JobStream) -> dict:
    """The run's accounts, each from its own source; ``jobs`` and ``records`` are by job key."""
    from bedrock_gateway.core.jobs.contract import DEAD_LETTERED

    statuses = Counter(records.get(job_id, {}).get("status") for job_id in jobs)
    dead_lettered_jobs = sum(
        1 for job_id in jobs if (records.get(job_id, {}).get("error") or {}).get("code") == DEAD_LETTERED
    )
    # Model answers produced per job body (the emulator's counters), and how many it broke on the wire.
    counters = stack.emulator.counters()
    bodies = counters["bodies"]
    # Invocations that died holding a job before it was final (the local Lambda's own record of the
    # killed and timed-out ones; a second of slack for finishedAt's resolution).
    deaths = Counter(death.kind for death in stack.worker_function.deaths)
    died_holding: Counter[str] = Counter()
    trusted = frozenset(stack.aws.env["TRUSTED_JOB_SENDERS"].split(","))
    for death in stack.worker_function.deaths:
        for job_id in {_job_of(record, trusted) for record in death.event.get("Records", [])}:
            if death.at <= _epoch(records.get(job_id, {}).get("finishedAt")) + 1:
                died_holding[job_id] += 1
    extra = explained = broken_total = 0
    explained_by: Counter[str] = Counter()
    for job_id, (target, body) in jobs.items():
        calls = bodies.get(sent_body(target, body), {})
        broken = calls.get("reset", 0) + calls.get("truncated", 0)
        broken_total += broken
        beyond_one = max(0, calls.get("succeeded", 0) - 1)
        extra += beyond_one
        by_death = min(beyond_one, died_holding[job_id])
        by_broken = min(beyond_one - by_death, broken)
        explained += by_death + by_broken
        explained_by["death"] += by_death
        explained_by["broken"] += by_broken
    return {
        "sent": len(jobs),
        "succeeded": statuses["succeeded"],
        "failed": statuses["failed"],
        "dead_lettered": queue_depth(stack.aws.client("sqs"), stack.aws.env["JOBS_DLQ_URL"]),
        "lost": len(jobs) - statuses["succeeded"] - statuses["failed"],
        "conflicting": len(stream.changed_after_final),
        "extra_invocations": extra,
        "explained_extra": explained,
        "unexplained_extra": extra - explained,
        "deaths": {kind: deaths[kind] for kind in ("killed", "timeout", "exited")},
        "broken": broken_total,
        "bedrock_errors": sum(
            v for k, v in counters["errors"].items() if k not in ("ConnectionReset", "TruncatedResponse")
        ),
        "dead_lettered_jobs": dead_lettered_jobs,
        "explained_by": f"{explained_by['death']}/{explained_by['broken']}",
    }


if __name__ == "__main__":
    sys.exit(main())
