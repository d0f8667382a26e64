"""DLQ consumer: a job whose message reaches the dead-letter queue ends final, and says so.

A message gets to the jobs DLQ when its last delivery failed, or died before or while the worker ran
it (a timeout, an out-of-memory kill, an init failure): then no worker code will ever finalize the
job. For each message in the DLQ (Lambda event source on it, ReportBatchItemFailures):

- the job is marked ``failed`` with error code ``DeadLettered`` (its ``lastError`` says what the
  last attempt met), unless it is final already, or another delivery still holds its lease: then
  the message is looked at again when that lease expires;
- the message **stays** in the DLQ for a redrive: it is reported as a batch item failure, so the
  event source does not delete it, and comes back to this consumer only after the DLQ's visibility
  timeout. A message whose job finished anyway has nothing left to redrive and is deleted, and so
  is one whose job id is another request's (it never ran under it; logged and counted).

Records are handled in a plain loop rather than Powertools' batch processor: keeping a message is
this consumer's normal answer, not a failure to log as one. A record that cannot be handled (the
store is unreachable) is looked at again after ``ERROR_RETRY_SECONDS``, and fails the invocation
once the others are done, so the function's error alarm fires; every message stays in the DLQ.
"""

from __future__ import annotations

import math
import random

from bedrock_gateway import container, gc_init, observability, settings, snapstart
from bedrock_gateway.core.jobs.messages import MalformedMessage, read_job_message
from bedrock_gateway.core.jobs.store import now_ms

DOOR = "dead-letters"
logger = observability.logger
#: The longest SQS lets a message stay invisible.
MAX_VISIBILITY_SECONDS = 12 * 3600
#: A message whose job could not be marked (the store failed) is looked at again this soon, not
#: after the DLQ's whole visibility timeout.
ERROR_RETRY_SECONDS = 10


class DeadLetterError(Exception):
    """Some records could not be handled; they stay in the DLQ and are tried again."""


def handle_record(record: dict) -> bool:
    """Finalize the job of one DLQ message; True when the message must stay in the DLQ."""
    store = container.job_store()
    message_id = record["messageId"]
    try:
        # The job's key as the worker found it: its id in the namespace of whoever sent the message
        # (a message keeps its sender and attributes when it moves to the DLQ).
        job, _ = read_job_message(record, settings.current().trusted_job_senders)
    except MalformedMessage as malformed:  # no redrive can help; recorded as the worker would
        store.reject_new(malformed.key, malformed.error)
        logger.warning(
            "malformed message in the DLQ", extra={"message_id": message_id, "job_id": malformed.job_id}
        )
        return False
    marked = store.dead_letter(job)
    if marked.outcome == "conflict":  # as the worker does: never marks another request's job
        observability.record_count(DOOR, "JobsConflicting")
        logger.warning(
            "message in the DLQ conflicts with the job recorded under its id; deleted",
            extra={"job_id": job.job_id, "message_id": message_id, "target": job.target},
        )
        return False
    if marked.outcome == "leased":
        wait = max(0, (marked.leased_until_ms or 0) - now_ms()) / 1000 + random.uniform(0.5, 2)
        _hold(record, min(MAX_VISIBILITY_SECONDS, math.ceil(wait)))
        return True
    if marked.outcome == "final":
        logger.info("job in the DLQ finished anyway; message deleted", extra={"job_id": job.job_id})
        return False
    if marked.outcome == "marked":
        observability.record_count(DOOR, "JobsDeadLettered")
        logger.warning("job dead-lettered", extra={"job_id": job.job_id, "message_id": message_id})
    return True


def _hold(record: dict, seconds: int) -> None:
    queue_url = settings.current().dead_letter_queue_url
    if not queue_url:
        return
    try:
        container.sqs().change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=seconds
        )
    except Exception:  # noqa: BLE001 - then the DLQ's own visibility timeout applies
        logger.warning("could not set the message's visibility", extra={"message_id": record["messageId"]})


def _prime_snapshot() -> None:
    """SnapStart, before the snapshot: the clients a dead letter may need, built without a call, and
    the job schema's validator compiled."""
    container.prime(container.job_store, container.sqs)
    read_job_message({"messageId": "primed", "body": '{"target": "primed", "body": {}}'}, frozenset())


snapstart.register(prime=_prime_snapshot)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    """Lambda entry point for the DLQ's event source (ReportBatchItemFailures)."""
    kept, errors = [], 0
    for record in event.get("Records", []):
        try:
            if handle_record(record):
                kept.append({"itemIdentifier": record["messageId"]})
        except Exception:  # kept in the DLQ; the invocation fails below
            logger.exception("could not handle a DLQ message", extra={"message_id": record.get("messageId")})
            _hold(record, ERROR_RETRY_SECONDS)
            kept.append({"itemIdentifier": record["messageId"]})
            errors += 1
    if errors:
        raise DeadLetterError(f"{errors} DLQ message(s) could not be handled; they stay in the DLQ")
    return {"batchItemFailures": kept}


gc_init.init_done()
