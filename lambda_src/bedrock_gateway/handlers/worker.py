"""SQS worker: invoke the model for each job in a batch, concurrently, never losing a job or
recording two outcomes for one.

- Partial batch failures (Powertools batch processing): only what a retry can help is retried.
- Each job is its caller's: the sender's namespace (or, from the gateway's own jobs API, the
  ``caller`` it names) keys its record and result, and its usage is recorded under that tenant.
- The job record is the job's lock: each delivery first **claims** the job (one conditional write:
  ``running`` under a lease that expires just after this invocation's deadline; a producer's first
  delivery tries to create the record so, and updates it only if one exists), then invokes the
  model, then writes the outcome in the same record (one conditional write, only while it still holds
  the lease). A delivery that finds the job final deletes its message; one that finds it leased to
  another delivery backs off until that lease expires and never fails the job.
- A dead invocation (killed, timed out, out of memory) leaves its lease behind, and the lease expires
  by itself before the queue's visibility timeout can deliver the job again: the next delivery runs
  the job again (the model call is at-least-once only there). The outcome of an answered model call
  is never dropped: writing it is retried until this invocation's deadline.
- Transient errors back off through the message's visibility timeout (at least Bedrock's
  Retry-After); the last allowed delivery hands the message straight on to the DLQ, where the DLQ
  consumer (:mod:`.dead_letters`) marks the job failed as ``DeadLettered``. Permanent errors fail the
  job at once.

Why not Powertools idempotency (the team's default): it keeps a second record beside the job's
(PutItem INPROGRESS, then UpdateItem COMPLETED), so a job cost four DynamoDB writes, and its lock
lived apart from the job state that callers and the DLQ consumer read: a killed invocation left an
INPROGRESS lock that made every redelivery skip the job until the message was dead-lettered, with
the job ``running`` forever. One record that is state, lease and outcome at once needs two
conditional writes per job and lets every reader see who holds a job and until when.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from bedrock_gateway import container, gc_init, observability, settings, snapstart
from bedrock_gateway.core import bedrock, legacy
from bedrock_gateway.core.callers import Caller
from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.jobs.contract import FAILED, SUCCEEDED, JobRequest, parse_job
from bedrock_gateway.core.jobs.messages import MalformedMessage, read_job_message, sent_by_jobs_api
from bedrock_gateway.core.jobs.store import LEASE_MARGIN_MS, Held, now_ms
from bedrock_gateway.core.prepare import prepare_job_body

DOOR = "worker"
logger = observability.logger
metrics = observability.metrics()
tracer = observability.tracer()
settings.targets()  # a bad config fails the cold start with its message
MAX_BACKOFF_SECONDS = 900
#: Pause between attempts to record an answered model call's outcome (doubling up to the maximum).
RECORD_RETRY_SECONDS = (0.05, 2.0)

# A batch whose every record is throttled is routine here, not a function error: report each record
# as a batch item failure instead of failing the invocation (and paging on Lambda's Errors metric).
processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# AWS SDK calls block: the batch's records run on these threads, so a batch takes about as long as
# its slowest call. asyncio's default executor would cap this at cpu_count + 4.
_executor = ThreadPoolExecutor(max_workers=settings.current().batch_concurrency, thread_name_prefix="job")
_outcomes: Counter[str] = Counter()
_outcomes_lock = threading.Lock()
#: When Lambda ends the current invocation (epoch ms): leases run to here (plus the margin).
_deadline_ms = 0


class JobInProgress(Exception):
    """Another delivery holds the job's lease: retry once it has expired, never fail the job."""


def _count(outcome: str, amount: int = 1) -> None:
    with _outcomes_lock:
        _outcomes[outcome] += amount


def _invoke_model(job: JobRequest, caller: Caller) -> dict:
    """The job's model invocation: its outcome, or a raised error when a retry may help."""
    try:
        call = prepare_job_body(settings.targets(), job.target, job.body)
        started = time.perf_counter()
        result = bedrock.invoke(call.target, call.body, settings.WORKER_BUDGET)
        if call.legacy:  # a text-completion body: the answer in the text-completion shape too
            result = replace(result, body=legacy.from_messages(result.body))
    except GatewayError as exc:
        if exc.retryable:
            raise
        return {"status": FAILED, "error": exc}
    observability.record_answer(DOOR, call.target, caller, result, started)
    return {
        "status": SUCCEEDED,
        "usage": {"inputTokens": result.input_tokens, "outputTokens": result.output_tokens},
        "body": result.body,
    }


def _record_outcome(job: JobRequest, held: Held, outcome: dict) -> bool:
    """Write an answered call's outcome (the result to S3 first when it is large), retrying until
    this invocation is killed at its deadline: giving up sooner would mean invoking the model again
    for no reason but a slow store. False when the lease had gone to another delivery, which
    finished the job."""
    store = container.job_store()
    pause, longest = RECORD_RETRY_SECONDS
    result_key = None
    while True:
        try:
            if outcome["status"] == FAILED:
                return store.fail(held, outcome["error"])
            body = outcome["body"]
            if len(body) <= settings.current().inline_result_bytes:
                return store.succeed(held, outcome["usage"], result=body.decode("utf-8", errors="replace"))
            if result_key is None:
                result_key = container.result_storage().put(job.key, body)
            return store.succeed(held, outcome["usage"], result_key=result_key)
        except Exception:
            # Lambda ends the invocation at its deadline; only a caller that does not (a test calling
            # the handler directly) sees this give up, once the lease has run out too.
            if now_ms() >= _deadline_ms + LEASE_MARGIN_MS:
                logger.exception("could not record the outcome of an answered job before the deadline")
                raise
            logger.warning("could not record the job's outcome; retrying", exc_info=True)
            time.sleep(pause)
            pause = min(longest, pause * 2)


def _process_job(record: SQSRecord, job: JobRequest, caller: Caller, receive_count: int) -> dict:
    """Run one job to a final state, or raise for SQS to deliver it again."""
    store = container.job_store()
    owner = uuid.uuid4().hex
    sent_at = int(record.attributes.sent_timestamp) if record.attributes.sent_timestamp else None
    try:
        # A producer's first delivery most likely finds no record; the jobs API's always finds one.
        unrecorded = receive_count == 1 and not sent_by_jobs_api(record.raw_event)
        claim = store.claim(job, owner, _deadline_ms + LEASE_MARGIN_MS, sent_at, unrecorded=unrecorded)
    except Exception as exc:
        _retry_later(record, job, owner, receive_count, exc)  # the claim may have been applied
        raise
    held = claim.held
    if held is None:
        if claim.conflict:  # the job id is another request's: as POST /v1/jobs answers 409, not run
            _count("conflicting")
            logger.warning(
                "job message conflicts with the job recorded under its id: not run",
                extra={"job_id": job.job_id, "message_id": record.message_id, "target": job.target},
            )
            return {"jobId": job.job_id, "status": "conflict", "skipped": True}
        if claim.leased_until_ms is None:  # final: this delivery is late or a duplicate
            return {"jobId": job.job_id, "status": "finished", "skipped": True}
        # Retry the moment the other delivery's lease runs out (it may have died holding it).
        wait = max(0, claim.leased_until_ms - now_ms()) / 1000 + random.uniform(0.5, 2)
        _backoff(record, min(MAX_BACKOFF_SECONDS, math.ceil(wait)))
        _count("retried")
        raise JobInProgress(f"job {job.job_id} is held by another delivery")

    try:
        outcome = _invoke_model(job, caller)
    except Exception as exc:
        _retry_later(record, job, owner, receive_count, exc)
        raise

    if not _record_outcome(job, held, outcome):
        logger.warning("job was finished by another delivery", extra={"job_id": job.job_id})
        return {"jobId": job.job_id, "status": "finished", "skipped": True}
    if outcome["status"] == FAILED:
        error = outcome["error"]
        observability.record_error(DOOR, error)
        _count("failed")
        logger.info(
            "job failed", extra={"job_id": job.job_id, "code": str(error.code), "detail": error.message}
        )
        return {"jobId": job.job_id, "status": FAILED, "code": str(error.code)}
    _count("succeeded")
    return {"jobId": job.job_id, "status": SUCCEEDED}


def _retry_later(record: SQSRecord, job: JobRequest, owner: str, receive_count: int, exc: Exception) -> None:
    """After a failed attempt: note why, give the lease back, and set when SQS delivers it again."""
    error = exc if isinstance(exc, GatewayError) else _unexpected(exc)
    observability.record_error(DOOR, error)
    _release(job, owner, error)
    if receive_count >= settings.current().max_receive_count:
        # The last delivery: on to the DLQ now, where the DLQ consumer fails the job.
        _backoff(record, 0)
        _count("out_of_deliveries")
        logger.warning("job out of deliveries", extra={"job_id": job.job_id, "code": str(error.code)})
    else:
        _backoff(record, _retry_delay(receive_count, error.retry_after))
        _count("retried")


def _release(job: JobRequest, owner: str, error: GatewayError) -> None:
    """Give the job's lease back after a failed attempt (best effort: unreleased, it expires)."""
    for _ in range(2):
        try:
            container.job_store().release(job.key, owner, error)
            return
        except Exception:  # unreleased, the lease expires at this invocation's deadline
            logger.warning("could not release the job", extra={"job_id": job.job_id}, exc_info=True)


def process_record(record: SQSRecord) -> dict:
    """Handle one SQS record; raising marks it as a batch item failure (retried by SQS).

    Its log lines carry the message id as their correlation id (per thread: records run concurrently).
    """
    logger.thread_safe_append_keys(correlation_id=record.message_id)
    try:
        return _process_record(record)
    finally:
        logger.thread_safe_remove_keys(["correlation_id"])


def _process_record(record: SQSRecord) -> dict:
    receive_count = int(record.attributes.approximate_receive_count or 1)
    try:
        job, caller = read_job_message(record.raw_event, settings.current().trusted_job_senders)
    except MalformedMessage as malformed:  # retrying cannot help
        # Recorded under its job id (in its sender's namespace) for the producer to find, but never
        # over an existing job's record.
        error = malformed.error
        container.job_store().reject_new(malformed.key, error)
        observability.record_error(DOOR, error)
        _count("malformed")
        logger.warning(
            "malformed job message", extra={"message_id": record.message_id, "detail": error.message}
        )
        return {"jobId": malformed.job_id, "status": FAILED, "code": str(error.code)}
    return _process_job(record, job, caller, receive_count)


def _unexpected(exc: Exception) -> GatewayError:
    logger.exception("unexpected error processing job")
    return GatewayError(ErrorCode.INTERNAL, "internal error")


def _retry_delay(receive_count: int, retry_after: int | None) -> int:
    """Exponential with jitter, never sooner than Bedrock's Retry-After."""
    delay = settings.current().retry_base_seconds * 2 ** (receive_count - 1) * random.uniform(0.5, 1.0)
    return int(min(MAX_BACKOFF_SECONDS, max(delay, retry_after or 0)))


def _backoff(record: SQSRecord, delay: int) -> None:
    """Deliver the message again in ``delay`` seconds (its visibility timeout)."""
    queue_url = settings.current().jobs_queue_url
    if not queue_url:
        return
    try:
        container.sqs().change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=delay
        )
    except Exception:  # noqa: BLE001 - without it the queue's own visibility timeout applies
        logger.warning("could not set retry backoff", extra={"message_id": record.message_id})


def _build_shared_clients() -> None:
    """Build the clients every job uses before a batch fans out to threads (left to first use, every
    thread would wait on the factory's lock to build the same one). S3 (large results) and SQS
    (backoff) are built by the locked factory when first needed: most batches need neither. On failure
    (e.g. a missing table name) nothing changes: each record meets the error as before."""
    try:
        container.prime(container.job_store)
        bedrock.runtime_client(settings.WORKER_BUDGET)
    except Exception:  # noqa: BLE001 - records report it themselves
        pass


def _prime_snapshot() -> None:
    """SnapStart, before the snapshot: every client a job may need, built without a call, and the job
    schema's validator compiled."""
    _build_shared_clients()
    container.prime(container.result_storage, container.sqs)
    parse_job({"target": "primed", "body": {}})


snapstart.register(prime=_prime_snapshot)


async def _record_handler(record: SQSRecord) -> dict:
    return await asyncio.get_running_loop().run_in_executor(_executor, process_record, record)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event, context):
    """Lambda entry point for SQS event source batches (ReportBatchItemFailures)."""
    global _deadline_ms
    _deadline_ms = now_ms() + context.get_remaining_time_in_millis()
    _build_shared_clients()
    with _outcomes_lock:
        _outcomes.clear()
    response = async_process_partial_response(event, _record_handler, processor, context)
    with _outcomes_lock:
        outcomes = dict(_outcomes)
    for name in ("succeeded", "failed", "malformed", "conflicting", "retried", "out_of_deliveries"):
        observability.record_count(DOOR, f"Jobs{name.title().replace('_', '')}", outcomes.get(name, 0))
    logger.info(
        "batch done",
        extra={
            "records": len(event.get("Records", [])),
            "failures": len(response.get("batchItemFailures", [])),
            **outcomes,
        },
    )
    return response


_build_shared_clients()  # at init, as for any Lambda function's SDK clients
gc_init.init_done()
