"""Jobs routes of the sync API: ``POST /v1/jobs`` enqueues, ``GET /v1/jobs/{jobId}`` reports."""

from __future__ import annotations

import os

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.jobs import JOB_ID, default_store, parse_job, sqs_client
from bedrock_gateway.core.service import check_size, parse_json_object, prepare_job_body

router = APIGatewayRouter()


def _config():
    from bedrock_gateway.handlers.api import CONFIG

    return CONFIG


@router.post("/v1/jobs")
def create_job():
    config = _config()
    raw = router.current_event.decoded_body or ""
    raw = raw.encode() if isinstance(raw, str) else raw
    check_size(raw, config.max_body_bytes + 4096)  # the body plus the job envelope
    job = parse_job(parse_json_object(raw))
    prepare_job_body(config, job.target, job.body)  # unknown target, raw ID, size: refuse now, not later
    store = default_store()
    record, created = store.create(job)
    if created:
        try:
            sqs_client().send_message(QueueUrl=os.environ["JOBS_QUEUE_URL"], MessageBody=job.message())
        except Exception as exc:
            store.delete_if_queued(job.job_id)  # nothing half-created: the client can retry the same jobId
            raise GatewayError(ErrorCode.SERVICE_UNAVAILABLE, "could not enqueue the job; retry with the same jobId") from exc
    location = f"/v1/jobs/{job.job_id}"
    return Response(
        status_code=202 if created else 200,
        content_type="application/json",
        body={"jobId": job.job_id, "status": record["status"]},
        headers={"Location": location},
    )


@router.get("/v1/jobs/<job_id>")
def get_job(job_id: str):
    if not JOB_ID.match(job_id):
        raise GatewayError(ErrorCode.NOT_FOUND, f"unknown job {job_id!r}")
    store = default_store()
    record = store.get(job_id)
    if record is None:
        raise GatewayError(ErrorCode.NOT_FOUND, f"unknown job {job_id!r}")
    return store.public_view(record)
