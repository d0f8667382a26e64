"""POST /v1/jobs and GET /v1/jobs/{jobId} through the sync handler, with SQS and DynamoDB in moto."""

from __future__ import annotations

import json

import pytest
from devstack.apigw import LambdaContext
from devstack.poller import to_lambda_record

from tests.integration.conftest import WORKER_TIMEOUT_MS

LLAMA = {"prompt": "hello mars", "max_gen_len": 20}


@pytest.fixture
def jobs(call_api, aws, worker_module):
    """call_api plus helpers to read the queue and run the worker on what it holds."""
    sqs = aws.client("sqs")

    def queued() -> list[dict]:
        return sqs.receive_message(
            QueueUrl=aws.env["JOBS_QUEUE_URL"], MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=0
        ).get("Messages", [])

    def work() -> dict:
        messages = sqs.receive_message(
            QueueUrl=aws.env["JOBS_QUEUE_URL"],
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],  # as the Lambda event source mapping delivers them
        ).get("Messages", [])
        event = {"Records": [to_lambda_record(m, "arn:aws:sqs:us-east-1:123456789012:q") for m in messages]}
        return worker_module.handler(event, LambdaContext(timeout_ms=WORKER_TIMEOUT_MS))

    return call_api, queued, work


def test_post_then_get_a_job(jobs):
    call_api, queued, work = jobs
    response = call_api("POST", "/v1/jobs", {"target": "llama", "body": LLAMA, "jobId": "client-key-1"})
    assert response.status == 202
    assert response.json() == {"jobId": "client-key-1", "status": "queued"}
    assert response.headers["location"] == "/v1/jobs/client-key-1"
    [message] = queued()
    assert json.loads(message["Body"]) == {"jobId": "client-key-1", "target": "llama", "body": LLAMA}

    pending = call_api("GET", "/v1/jobs/client-key-1").json()
    assert pending["status"] == "queued" and pending["attempts"] == 0 and pending["target"] == "llama"

    assert work() == {"batchItemFailures": []}
    done = call_api("GET", "/v1/jobs/client-key-1").json()
    assert done["status"] == "succeeded"
    assert "generation" in done["result"]
    assert done["usage"]["outputTokens"] > 0
    for stamp in ("createdAt", "updatedAt", "startedAt", "finishedAt"):
        assert done[stamp].endswith("Z")


def test_job_id_is_generated_when_absent(jobs):
    call_api, queued, _ = jobs
    response = call_api("POST", "/v1/jobs", {"target": "llama", "body": LLAMA})
    assert response.status == 202
    job_id = response.json()["jobId"]
    assert len(job_id) == 36 and response.headers["location"] == f"/v1/jobs/{job_id}"


def test_the_same_job_id_twice_is_one_job(jobs, emu):
    call_api, queued, work = jobs
    request = {"target": "llama", "body": LLAMA, "jobId": "dup"}
    assert call_api("POST", "/v1/jobs", request).status == 202
    again = call_api("POST", "/v1/jobs", request)
    assert again.status == 200 and again.json() == {"jobId": "dup", "status": "queued"}
    assert len(queued()) == 2  # sent again while queued: harmless, the worker is idempotent per job
    work()
    assert emu.counters()["succeeded"] == 1  # one model invocation for the one job
    assert call_api("POST", "/v1/jobs", request).json()["status"] == "succeeded"


def test_reusing_a_job_id_for_another_request_is_409(jobs):
    call_api, _, _ = jobs
    assert call_api("POST", "/v1/jobs", {"target": "llama", "body": LLAMA, "jobId": "k"}).status == 202
    for other in (
        {"target": "haiku", "body": LLAMA},
        {"target": "llama", "body": {**LLAMA, "max_gen_len": 7}},
    ):
        response = call_api("POST", "/v1/jobs", {**other, "jobId": "k"})
        assert response.status == 409 and response.json()["error"]["code"] == "Conflict", other


@pytest.mark.parametrize(
    "payload,status,code",
    [
        (b"{nope", 400, "InvalidRequest"),
        ({"body": LLAMA}, 400, "InvalidRequest"),
        ({"target": "llama"}, 400, "InvalidRequest"),
        ({"target": "llama", "body": [1]}, 400, "InvalidRequest"),
        ({"target": "llama", "body": LLAMA, "jobId": "has spaces"}, 400, "InvalidRequest"),
        ({"target": "llama", "body": LLAMA, "surprise": True}, 400, "InvalidRequest"),
        ({"target": "nope", "body": LLAMA}, 404, "TargetNotFound"),
        ({"target": "anthropic.claude-3-haiku-20240307-v1:0", "body": LLAMA}, 403, "RawModelIdNotAllowed"),
    ],
)
def test_bad_job_requests_are_refused_before_queueing(jobs, payload, status, code):
    call_api, queued, _ = jobs
    response = call_api("POST", "/v1/jobs", payload)
    assert response.status == status and response.json()["error"]["code"] == code
    assert queued() == []


def test_oversize_job_is_413(jobs, replace_config):
    call_api, queued, _ = jobs
    replace_config(max_body_bytes=100)
    response = call_api("POST", "/v1/jobs", {"target": "llama", "body": {"prompt": "x" * 200}})
    assert response.status == 413  # the model body alone is over max_body_bytes
    assert response.json()["error"]["message"].startswith("the job's model body, as compact JSON, is ")
    assert response.json()["error"]["message"].endswith("the limit is 100 bytes (max_body_bytes)")
    response = call_api("POST", "/v1/jobs", {"target": "llama", "body": {"prompt": "x" * 5000}})
    assert response.status == 413  # refused before it is parsed
    # The limit it names adds up to the configured one plus the job's own fields, and says so.
    assert response.json()["error"]["message"].endswith(
        "the limit is 4196 bytes (max_body_bytes 100 for the model body, 4096 for the job's fields)"
    )
    assert queued() == []


def test_a_job_id_read_back_percent_encoded_is_the_same_job(jobs):
    """API Gateway decodes path parameters: a client that escapes the ':' of its job id reads its own job."""
    call_api, _, work = jobs
    assert call_api("POST", "/v1/jobs", {"target": "llama", "body": LLAMA, "jobId": "batch:1"}).status == 202
    assert work() == {"batchItemFailures": []}
    for path in ("/v1/jobs/batch:1", "/v1/jobs/batch%3A1", "/v1/jobs/batch%3a1"):
        document = call_api("GET", path)
        assert document.status == 200 and document.json()["jobId"] == "batch:1", (path, document.json())
        assert document.json()["status"] == "succeeded"
        result = call_api("GET", f"{path}/result")
        assert result.status == 200 and "generation" in result.json(), path


def test_unknown_job_is_404(jobs):
    call_api, _, _ = jobs
    for job_id in ("never-posted", "bad%20id"):
        response = call_api("GET", f"/v1/jobs/{job_id}")
        assert response.status == 404 and response.json()["error"]["code"] == "NotFound"


def test_enqueue_failure_leaves_nothing_behind(jobs, monkeypatch, replace_settings):
    call_api, queued, _ = jobs
    replace_settings(jobs_queue_url="http://127.0.0.1:9/queue/missing")
    response = call_api("POST", "/v1/jobs", {"target": "llama", "body": LLAMA, "jobId": "retry-me"})
    assert response.status == 503 and response.json()["error"]["code"] == "ServiceUnavailableException"
    assert call_api("GET", "/v1/jobs/retry-me").status == 404  # the client can retry with the same jobId
    monkeypatch.undo()
    assert call_api("POST", "/v1/jobs", {"target": "llama", "body": LLAMA, "jobId": "retry-me"}).status == 202


def test_location_keeps_the_stage_prefix_of_the_default_api_url(jobs, api_module):
    from devstack.apigw import LambdaContext, build_event, response_parts

    event = build_event(
        "POST",
        "/v1/jobs",
        "",
        [("Content-Type", "application/json")],
        json.dumps({"target": "llama", "body": LLAMA, "jobId": "staged"}).encode(),
    )
    event["requestContext"]["path"] = "/prod/v1/jobs"
    status, headers, _ = response_parts(api_module.handler(event, LambdaContext()))
    assert status == 202 and dict(headers)["Location"] == "/prod/v1/jobs/staged"


def test_a_job_too_big_for_an_sqs_message_is_413(jobs, replace_config):
    call_api, queued, _ = jobs
    replace_config(max_body_bytes=3 * 1024 * 1024)
    response = call_api("POST", "/v1/jobs", {"target": "llama", "body": {"prompt": "x" * (1024 * 1024 + 10)}})
    assert response.status == 413 and "SQS" in response.json()["error"]["message"]
    assert queued() == []


def test_a_retried_post_of_a_job_still_queued_enqueues_it_again(jobs, aws):
    call_api, queued, work = jobs
    request = {"target": "llama", "body": LLAMA, "jobId": "lost-message"}
    assert call_api("POST", "/v1/jobs", request).status == 202
    sqs = aws.client("sqs")
    for message in queued():  # the first message never arrives
        sqs.delete_message(QueueUrl=aws.env["JOBS_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"])
    assert call_api("POST", "/v1/jobs", request).status == 200
    assert len(queued()) == 1
    work()
    assert call_api("GET", "/v1/jobs/lost-message").json()["status"] == "succeeded"


def test_a_non_utf8_body_is_400(jobs):
    call_api, _, _ = jobs
    response = call_api("POST", "/v1/jobs", b"\xff\xfe{}")
    assert response.status == 400 and response.json()["error"]["code"] == "InvalidRequest"
