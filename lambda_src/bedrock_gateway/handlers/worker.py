"""SQS worker: invoke the model for each job in a batch, concurrently, never losing or double-billing one.

- Partial batch failures (Powertools batch processing): only transient failures are retried.
- The model invocation is idempotent on the job id (Powertools, DynamoDB): its outcome is saved, so
  a message delivered twice, redelivered after its job finished, or retried after a failed state
  write never invokes the model again. Job states only move forward (conditional writes).
- Transient errors back off through the message's visibility timeout (at least Bedrock's
  Retry-After for throttling); on the last allowed receive the job is marked failed and the message
  goes on to the DLQ through the queue's redrive policy (a redrive starts the job again). Permanent
  errors fail the job at once. A delivery that finds its job in flight elsewhere only backs off.
"""

from __future__ import annotations

import asyncio
import functools
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from bedrock_gateway import container, observability, settings, snapstart
from bedrock_gateway.core import bedrock, callers, legacy
from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.jobs.contract import FAILED, JOB_ID, SUCCEEDED, JobRequest, job_key, parse_job
from bedrock_gateway.core.prepare import parse_json_object, prepare_job_body

DOOR = "worker"
logger = observability.logger
metrics = observability.metrics()
tracer = observability.tracer()
settings.targets()  # a bad config fails the cold start with its message
MAX_BACKOFF_SECONDS = 900

# A batch whose every record is throttled is routine here, not a function error: report each record
# as a batch item failure instead of failing the invocation (and paging on Lambda's Errors metric).
processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# boto3 is blocking: the batch's records run on these threads, so a batch takes about as long as
# its slowest call. asyncio's default executor would cap this at cpu_count + 4.
_executor = ThreadPoolExecutor(max_workers=settings.current().batch_concurrency, thread_name_prefix="job")
IDEMPOTENCY = IdempotencyConfig(event_key_jmespath="jobId", expires_after_seconds=7 * 24 * 3600)
_outcomes: Counter[str] = Counter()
_outcomes_lock = threading.Lock()


@functools.cache
def _idempotent_invoke():
    # Built on first use: the persistence layer needs a DynamoDB client, which cold start need not pay for.
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    table = settings.current().idempotency_table
    if not table:
        raise RuntimeError("IDEMPOTENCY_TABLE_NAME is not set: the idempotency table is unknown")
    # One DynamoDB client, from the locked factory, for both tables.
    persistence = DynamoDBPersistenceLayer(table_name=table, boto3_client=container.dynamodb())
    return idempotent_function(
        data_keyword_argument="job", persistence_store=persistence, config=IDEMPOTENCY
    )(_invoke_model)


def _count(outcome: str, amount: int = 1) -> None:
    with _outcomes_lock:
        _outcomes[outcome] += amount


def _invoke_model(job: dict) -> dict:
    """The job's one model invocation, and where its result went (idempotent on the job id).

    Powertools saves what this returns, so once it has returned, a retry of anything after it
    (recording the job's state, say) gets the saved outcome and never invokes the model again.
    Transient errors raise (and the job is retried); permanent ones are an outcome.
    """
    try:
        call = prepare_job_body(settings.targets(), job["target"], job["body"])
        started = time.perf_counter()
        result = bedrock.invoke(call.target, call.body, settings.WORKER_BUDGET)
        if call.legacy:
            result = replace(result, body=legacy.from_messages(result.body))
    except GatewayError as exc:
        if exc.retryable:
            raise
        return {"status": FAILED, "error": {"code": str(exc.code), "message": exc.message}}
    latency_ms = (
        result.latency_ms if result.latency_ms is not None else round((time.perf_counter() - started) * 1000)
    )
    observability.record_invocation(
        DOOR,
        call.target,
        callers.from_owner(job["caller"]),
        latency_ms=latency_ms,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
    )
    outcome: dict = {
        "status": SUCCEEDED,
        "usage": {"inputTokens": result.input_tokens, "outputTokens": result.output_tokens},
    }
    if len(result.body) <= settings.current().inline_result_bytes:
        outcome["result"] = result.body.decode("utf-8", errors="replace")
    else:
        outcome["resultKey"] = container.result_storage().put(job["jobId"], result.body)
    return outcome


def _process_job(request: JobRequest, caller: callers.Caller) -> dict:
    """Run one job to a final state, or raise a transient error for SQS to retry it."""
    store = container.job_store()
    if not store.start_attempt(request):  # conditional: refused once the job has finished
        return {"jobId": request.job_id, "status": "finished", "skipped": True}
    try:
        outcome = _idempotent_invoke()(
            job={"jobId": request.key, "target": request.target, "body": request.body, "caller": caller.owner}
        )
    except GatewayError as exc:
        if exc.retryable:
            store.note_transient_error(request.key, exc)
        raise
    if outcome["status"] == FAILED:
        error = GatewayError(ErrorCode(outcome["error"]["code"]), outcome["error"]["message"])
        store.fail(request.key, error)
        observability.record_error(DOOR, error)
        _count("failed")
        logger.info(
            "job failed", extra={"job_id": request.job_id, "code": str(error.code), "detail": error.message}
        )
        return {"jobId": request.job_id, "status": FAILED, "code": str(error.code)}
    store.succeed(
        request.key, outcome["usage"], result=outcome.get("result"), result_key=outcome.get("resultKey")
    )
    _count("succeeded")
    return {"jobId": request.job_id, "status": SUCCEEDED}


def process_record(record: SQSRecord) -> dict:
    """Handle one SQS record; raising marks it as a batch item failure (retried by SQS).

    Its log lines carry the message id as their correlation id (per thread: records run concurrently).
    """
    logger.thread_safe_append_keys(correlation_id=record.message_id)
    try:
        return _process_record(record)
    finally:
        logger.thread_safe_remove_keys(["correlation_id"])


def _sender_scope(record: SQSRecord) -> str:
    """The namespace of whoever sent ``record``, whatever its attributes say (for malformed messages)."""
    try:
        return callers.from_sqs_message(record.attributes.sender_id, None, frozenset()).scope
    except GatewayError:
        return callers.ANONYMOUS.scope


def _caller_attribute(record: SQSRecord) -> str | None:
    attribute = (record.raw_event.get("messageAttributes") or {}).get("caller") or {}
    return attribute.get("stringValue")


def _process_record(record: SQSRecord) -> dict:
    receive_count = int(record.attributes.approximate_receive_count or 1)
    job_id, scope = record.message_id, _sender_scope(record)
    try:
        payload = parse_json_object(record.body, "SQS message body")
        if isinstance(payload.get("jobId"), str) and JOB_ID.match(payload["jobId"]):
            job_id = payload["jobId"]
        caller = callers.from_sqs_message(
            record.attributes.sender_id, _caller_attribute(record), settings.current().trusted_job_senders
        )
        scope = caller.scope
        job = parse_job(payload, default_job_id=record.message_id, scope=scope)
    except GatewayError as exc:  # malformed: retrying cannot help
        # Recorded under its job id for the producer to find, but never over an existing job's record.
        container.job_store().fail(job_key(scope, job_id), exc, only_if_new=True)
        observability.record_error(DOOR, exc)
        _count("malformed")
        logger.warning(
            "malformed job message", extra={"message_id": record.message_id, "detail": exc.message}
        )
        return {"jobId": job_id, "status": FAILED, "code": str(exc.code)}

    try:
        return _process_job(job, caller)
    except IdempotencyAlreadyInProgressError:
        # Another delivery of this job is invoking the model right now and will finish it: retry later
        # to see its outcome. Never fail the job for it, even if this message runs out of deliveries.
        _backoff(record, receive_count, 30)
        _count("retried")
        raise
    except Exception as exc:
        error = exc if isinstance(exc, GatewayError) else _unexpected(exc)
        observability.record_error(DOOR, error)
        if receive_count >= settings.current().max_receive_count:
            container.job_store().fail(
                job.key,
                GatewayError(
                    error.code, f"gave up after {receive_count} attempts; last error: {error.message}"
                ),
                target=job.target,
                dead_lettered=True,
            )
            _count("dead_lettered")
            logger.warning("job dead-lettered", extra={"job_id": job.job_id, "code": str(error.code)})
        else:
            _backoff(record, receive_count, error.retry_after)
            _count("retried")
        raise


def _unexpected(exc: Exception) -> GatewayError:
    logger.exception("unexpected error processing job")
    return GatewayError(ErrorCode.INTERNAL, "internal error")


def _backoff(record: SQSRecord, receive_count: int, retry_after: int | None) -> None:
    """Delay the next delivery: exponential with jitter, never sooner than Bedrock's Retry-After."""
    queue_url = settings.current().jobs_queue_url
    if not queue_url:
        return
    delay = settings.current().retry_base_seconds * 2 ** (receive_count - 1) * random.uniform(0.5, 1.0)
    delay = int(min(MAX_BACKOFF_SECONDS, max(delay, retry_after or 0)))
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
        container.prime(container.job_store, _idempotent_invoke)
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
    IDEMPOTENCY.register_lambda_context(context)
    _build_shared_clients()
    with _outcomes_lock:
        _outcomes.clear()
    response = async_process_partial_response(event, _record_handler, processor, context)
    with _outcomes_lock:
        outcomes = dict(_outcomes)
    for name in ("succeeded", "failed", "malformed", "retried", "dead_lettered"):
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
