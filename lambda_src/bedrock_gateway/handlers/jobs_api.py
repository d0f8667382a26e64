"""Jobs routes of the sync API: ``POST /v1/jobs`` enqueues, ``GET /v1/jobs/{jobId}`` reports."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from bedrock_gateway import container, settings
from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.jobs.contract import JOB_ID, QUEUED, parse_job
from bedrock_gateway.core.prepare import check_size, parse_json_object, prepare_job_body
from bedrock_gateway.edge.jobs_view import job_document
from bedrock_gateway.handlers.common import public_path, raw_body

SQS_MAX_MESSAGE_BYTES = 1024 * 1024
JOB_ENVELOPE_BYTES = 4096  # the job's own fields around the model body


def create_job(event: APIGatewayProxyEvent) -> Response:
    config = settings.targets()
    raw = raw_body(event)
    check_size(raw, config.max_body_bytes + JOB_ENVELOPE_BYTES)
    job = parse_job(parse_json_object(raw))
    prepare_job_body(config, job.target, job.body)  # unknown target, raw ID, size: refuse now, not later
    message = job.message()
    if len(message.encode()) > SQS_MAX_MESSAGE_BYTES:
        raise GatewayError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"the job is {len(message.encode())} bytes as a queue message; SQS takes at most 1 MiB",
        )
    store = container.job_store()
    record, created = store.create(job)
    if record["status"] == QUEUED:
        # Also for a repeated POST of a job still queued: its first enqueue may have failed after the
        # record was written. A second message is harmless, the worker being idempotent per job.
        try:
            container.sqs().send_message(QueueUrl=settings.current().jobs_queue_url, MessageBody=message)
        except Exception as exc:
            if created:  # nothing half-created: the client can retry the same jobId
                store.delete_if_queued(job.job_id)
            raise GatewayError(
                ErrorCode.SERVICE_UNAVAILABLE, "could not enqueue the job; retry with the same jobId"
            ) from exc
    return Response(
        status_code=202 if created else 200,
        content_type="application/json",
        body={"jobId": job.job_id, "status": record["status"]},
        headers={"Location": public_path(event, f"/v1/jobs/{job.job_id}")},
    )


def get_job(event: APIGatewayProxyEvent, jobId: str) -> dict:
    if not JOB_ID.match(jobId):
        raise GatewayError(ErrorCode.NOT_FOUND, f"unknown job {jobId!r}")
    record = container.job_store().get(jobId)
    if record is None:
        raise GatewayError(ErrorCode.NOT_FOUND, f"unknown job {jobId!r}")
    return job_document(record, container.result_storage())
