"""Jobs routes of the sync API: ``POST /v1/jobs`` enqueues, ``GET /v1/jobs/{jobId}`` reports."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from bedrock_gateway import container, settings
from bedrock_gateway.core.callers import Caller
from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.jobs.contract import JOB_ID, QUEUED, job_key, parse_job
from bedrock_gateway.core.prepare import check_size, parse_json_object, prepare_job_body
from bedrock_gateway.edge.jobs_view import job_document
from bedrock_gateway.handlers.common import path_value, public_path, raw_body

SQS_MAX_MESSAGE_BYTES = 1024 * 1024
#: Lambda's response payload limit (6 MB), less room for the proxy envelope.
LAMBDA_RESPONSE_BYTES = 5_500_000
RESULT_URL_SECONDS = 300
JOB_ENVELOPE_BYTES = 4096  # the job's own fields around the model body


def create_job(event: APIGatewayProxyEvent, caller: Caller) -> Response:
    config = settings.targets()
    raw = raw_body(event)
    check_size(
        len(raw),
        config.max_body_bytes + JOB_ENVELOPE_BYTES,
        made_of=f"max_body_bytes {config.max_body_bytes} for the model body, {JOB_ENVELOPE_BYTES} for the job's fields",
    )
    job = parse_job(parse_json_object(raw), scope=caller.scope)
    caller.check_target(job.target, config)
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
            container.sqs().send_message(
                QueueUrl=settings.current().jobs_queue_url,
                MessageBody=message,
                MessageAttributes={"caller": {"DataType": "String", "StringValue": caller.owner}},
            )
        except Exception as exc:
            if created:  # nothing half-created: the client can retry the same jobId
                store.delete_if_queued(job.key)
            raise GatewayError(
                ErrorCode.SERVICE_UNAVAILABLE, "could not enqueue the job; retry with the same jobId"
            ) from exc
    return Response(
        status_code=202 if created else 200,
        content_type="application/json",
        body={"jobId": job.job_id, "status": record["status"]},
        headers={"Location": public_path(event, f"/v1/jobs/{job.job_id}")},
    )


def _own_record(caller: Caller, job_id: str) -> dict:
    """The caller's own job, or exactly what a job that does not exist gets: another caller's job id
    is no existence oracle."""
    record = container.job_store().get(job_key(caller.scope, job_id)) if JOB_ID.match(job_id) else None
    if record is None:
        raise GatewayError(ErrorCode.NOT_FOUND, f"unknown job {job_id!r}")
    return record


def get_job(event: APIGatewayProxyEvent, caller: Caller, jobId: str) -> dict:
    job_id = path_value(event, "jobId", jobId)
    return job_document(_own_record(caller, job_id), job_id, public_path(event, f"/v1/jobs/{job_id}/result"))


def get_job_result(event: APIGatewayProxyEvent, caller: Caller, jobId: str) -> Response:
    """The job's result, authorized like the job: inline results and stored ones alike, as JSON."""
    job_id = path_value(event, "jobId", jobId)
    record = _own_record(caller, job_id)
    if "result" in record:
        body = record["result"].encode()
    elif "resultKey" in record:
        storage = container.result_storage()
        body = storage.get(record["resultKey"])
        if len(body) > LAMBDA_RESPONSE_BYTES:
            # Past what a Lambda response can carry: a short-lived link, well inside the lifetime of
            # the credentials that sign it (Lambda refreshes its role's credentials long before).
            url = storage.download_url(record["resultKey"], RESULT_URL_SECONDS)
            return Response(status_code=302, headers={"Location": url}, body="")
    else:
        raise GatewayError(
            ErrorCode.NOT_FOUND, f"job {job_id!r} has no result yet (status {record['status']})"
        )
    return Response(
        status_code=200, content_type="application/json", body=body.decode("utf-8", errors="replace")
    )
