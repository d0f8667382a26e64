"""``make chaos``: the no-loss test. Jobs through the local stack while Bedrock misbehaves.

Posts N jobs to ``POST /v1/jobs`` on a local stack (API, SQS + DLQ, DynamoDB, S3, pollers and the
worker handler in Lambda-like processes) while the emulator throttles a share of calls and fails
another share with a permanent error; waits until every job is final; then accounts for each one:

    sent=1000 succeeded=N failed=N dead_lettered=N lost=0 duplicate_invocations=0

``lost`` counts jobs not in a final state (or whose record vanished); ``duplicate_invocations``
comes from the emulator's own per-body counters (model responses returned more than once for one
job's body), not from our bookkeeping. Exits 1 unless both are zero. Bounded: gives up after
``--timeout`` seconds and reports what it has.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx


def job_body(index: int) -> dict:
    """A unique body per job, so the emulator's per-body counters identify each job's invocations."""
    return {
        "prompt": f"\n\nHuman: chaos job {index}: describe one Mars habitat\n\nAssistant:",
        "max_tokens_to_sample": 40,
    }


def sent_body(body: dict) -> str:
    """The sha256 of the bytes the worker sends to Bedrock for ``body`` (computed by the worker's own code)."""
    from bedrock_gateway import settings
    from bedrock_gateway.core.prepare import prepare_job_body

    return hashlib.sha256(prepare_job_body(settings.targets(), "claude", body).body).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--throttle-rate", type=float, default=0.30)
    parser.add_argument("--permanent-error-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--timeout", type=float, default=600, help="seconds before giving up")
    parser.add_argument("--workers", type=int, default=2, help="pollers = worker concurrency")
    args = parser.parse_args(argv)

    from devstack.aws import QueueSettings
    from devstack.stack import DevStack

    settings = QueueSettings(visibility_timeout=2, max_receive_count=5, retry_base_seconds=0.5)
    started = time.monotonic()
    with DevStack(
        port=0,
        emulator_port=0,
        https_port=None,
        concurrency=2,
        worker_concurrency=args.workers,
        queue_settings=settings,
        log_dir=".local/logs/chaos",
    ) as stack:
        emulator = stack.emulator
        emulator.configure(
            model="*",
            throttle_rate=args.throttle_rate,
            seed=args.seed,
            error={
                "type": "ValidationException",
                "rate": args.permanent_error_rate,
                "message": "Malformed input request: chaos says no",
            },
        )
        bodies = {f"chaos-{i:05d}": job_body(i) for i in range(args.jobs)}
        with httpx.Client(base_url=stack.url, timeout=30) as client, ThreadPoolExecutor(8) as pool:

            def post(item):
                job_id, body = item
                return client.post(
                    "/v1/jobs", json={"jobId": job_id, "target": "claude", "body": body}
                ).status_code

            statuses = list(pool.map(post, bodies.items()))
        refused = sum(1 for s in statuses if s != 202)
        print(
            f"chaos: posted {args.jobs} jobs ({refused} refused) in {time.monotonic() - started:.1f}s; "
            f"throttle {args.throttle_rate:.0%}, permanent errors {args.permanent_error_rate:.0%}",
            flush=True,
        )

        final = wait_for_final(stack, list(bodies), started + args.timeout)
        counts = {"succeeded": 0, "failed": 0}
        for record in final.values():
            if record and record["status"] in counts:
                counts[record["status"]] += 1
        dead = drain(stack.aws.client("sqs"), stack.aws.env["JOBS_DLQ_URL"])
        calls = emulator.counters()["bodies"]
        duplicates = sum(
            max(0, calls.get(sent_body(body), {}).get("succeeded", 0) - 1) for body in bodies.values()
        )
        lost = args.jobs - counts["succeeded"] - counts["failed"]
        print(f"chaos: done in {time.monotonic() - started:.1f}s, {stack.poller.batches} batches", flush=True)
    print(
        f"sent={args.jobs} succeeded={counts['succeeded']} failed={counts['failed']} dead_lettered={dead} "
        f"lost={lost} duplicate_invocations={duplicates}"
    )
    return 0 if lost == 0 and duplicates == 0 and refused == 0 else 1


def wait_for_final(stack, job_ids: list[str], deadline: float) -> dict[str, dict | None]:
    """Poll the job store until every job is succeeded or failed (or the deadline passes)."""
    from bedrock_gateway.core.jobs.contract import TERMINAL
    from bedrock_gateway.core.jobs.store import DynamoJobStore

    store = DynamoJobStore(stack.aws.env["JOBS_TABLE_NAME"], stack.aws.client("dynamodb"))
    final: dict[str, dict | None] = {}
    pending = list(job_ids)
    last_report = 0.0
    while pending and time.monotonic() < deadline:
        still = []
        for job_id in pending:
            record = store.get(job_id)
            if record and record["status"] in TERMINAL:
                final[job_id] = record
            else:
                still.append(job_id)
        pending = still
        if time.monotonic() - last_report > 5:
            print(f"chaos: {len(job_ids) - len(pending)}/{len(job_ids)} jobs final", flush=True)
            last_report = time.monotonic()
        if pending:
            time.sleep(1)
    for job_id in pending:
        final[job_id] = store.get(job_id)
    return final


def drain(sqs, queue_url: str) -> int:
    """Count (and remove) every message in the DLQ."""
    count = 0
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages", []
    ):
        count += len(messages)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    return count


if __name__ == "__main__":
    sys.exit(main())
