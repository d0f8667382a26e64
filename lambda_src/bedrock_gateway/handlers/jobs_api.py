"""Jobs routes of the sync API: ``POST /v1/jobs`` enqueues, ``GET /v1/jobs/{jobId}`` reports."""

from __future__ import annotations

import os

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.jobs import JOB_ID, QUEUED, default_store, parse_job, sqs_client
from bedrock_gateway.core.service import check_size, parse_json_object, prepare_job_body
from bedrock_gateway.handlers.common import raw_body

router = APIGatewayRouter()
SQS_MAX_MESSAGE_BYTES = 1024 * 1024


def _config():
    from bedrock_gateway.handlers.api import CONFIG

    return CONFIG


@router.post("/v1/jobs")
def create_job():
    config = _config()
    raw = raw_body(router.current_event)
    check_size(raw, config.max_body_bytes + 4096)  # the body plus the job envelope
    job = parse_job(parse_json_object(raw))
    prepare_job_body(config, job.target, job.body)  # unknown target, raw ID, size: refuse now, not later
    message = job.message()
    if len(message.encode()) > SQS_MAX_MESSAGE_BYTES:
        raise GatewayError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"the job is {len(message.encode())} bytes as a queue message; SQS takes at most 1 MiB",
        )
    store = default_store()
    record, created = store.create(job)
    if record["status"] == QUEUED:
        # Also for a repeated POST of a job still queued: its first enqueue may have failed after the
        # record was written. A second message is harmless, the worker being idempotent per job.
        try:
            sqs_client().send_message(QueueUrl=os.environ["JOBS_QUEUE_URL"], MessageBody=message)
        except Exception as exc:
            if created:
                store.delete_if_queued(
                    job.job_id
                )  # nothing half-created: the client can retry the same jobId
            raise GatewayError(
                ErrorCode.SERVICE_UNAVAILABLE, "could not enqueue the job; retry with the same jobId"
            ) from exc
    return Response(
        status_code=202 if created else 200,
        content_type="application/json",
        body={"jobId": job.job_id, "status": record["status"]},
        headers={"Location": _public_path(f"/v1/jobs/{job.job_id}")},
    )


def _public_path(path: str) -> str:
    """``path`` as the client reaches it: behind the default execute-api URL that includes the stage."""
    event = router.current_event
    full, routed = event.request_context.path or "", event.path or ""
    prefix = full[: -len(routed)] if routed and full.endswith(routed) else ""
    return prefix + path


@router.get("/v1/jobs/<job_id>")
def get_job(job_id: str):
    if not JOB_ID.match(job_id):
        raise GatewayError(ErrorCode.NOT_FOUND, f"unknown job {job_id!r}")
    store = default_store()
    record = store.get(job_id)
    if record is None:
        raise GatewayError(ErrorCode.NOT_FOUND, f"unknown job {job_id!r}")
    return store.public_view(record)
