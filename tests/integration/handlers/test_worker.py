"""The SQS worker through Lambda's SQS event format, moto (SQS, DynamoDB, S3) and the emulator."""

from __future__ import annotations

import hashlib
import json
import time
import uuid

import pytest
from bedrock_gateway import container, settings
from devstack.apigw import LambdaContext
from devstack.poller import SqsPoller, to_lambda_record

LLAMA = {"prompt": "hello mars", "max_gen_len": 20}


def job(target="llama", body=None, job_id=None) -> dict:
    payload = {"target": target, "body": body or dict(LLAMA, prompt=f"job {uuid.uuid4()}")}
    if job_id:
        payload["jobId"] = job_id
    return payload


def record(payload, message_id=None, receive_count=1) -> dict:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    message = {
        "MessageId": message_id or str(uuid.uuid4()),
        "ReceiptHandle": str(uuid.uuid4()),
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": str(receive_count)},
    }
    return to_lambda_record(message, "arn:aws:sqs:us-east-1:123456789012:bedrock-gateway-jobs")


def run(worker_module, *records) -> set[str]:
    response = worker_module.handler({"Records": list(records)}, LambdaContext(function_name="worker"))
    return {item["itemIdentifier"] for item in response["batchItemFailures"]}


def get_job(worker_module, job_id):
    """The job a producer writing to the queue directly (moto's one SenderId) sent."""
    from bedrock_gateway import container
    from bedrock_gateway.core.callers import iam_caller
    from bedrock_gateway.core.jobs.contract import job_key
    from devstack.aws import MOTO_SENDER_ID

    return container.job_store().get(job_key(iam_caller(MOTO_SENDER_ID).scope, job_id))


def body_sha(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload["body"], separators=(",", ":")).encode()).hexdigest()


def test_a_job_runs_to_success_with_result_and_usage(worker_module, aws, emu):
    payload = job(job_id="job-ok")
    assert run(worker_module, record(payload)) == set()
    stored = get_job(worker_module, "job-ok")
    assert stored["status"] == "succeeded" and stored["attempts"] == 1
    assert stored["usage"]["inputTokens"] > 0 and stored["usage"]["outputTokens"] > 0
    assert "generation" in json.loads(stored["result"])
    assert emu.counters()["bodies"][body_sha(payload)]["succeeded"] == 1


def test_job_id_defaults_to_the_message_id(worker_module, aws):
    assert run(worker_module, record(job(), message_id="m-123")) == set()
    assert get_job(worker_module, "m-123")["status"] == "succeeded"


def test_partial_batch_failure_retries_only_the_transient_record(worker_module, aws, emu):
    emu.configure(
        model="mistral.mistral-large-3-675b-instruct", error={"type": "ThrottlingException", "when": "before"}
    )
    ok1, throttled, ok2 = (
        record(job(job_id="a")),
        record(job("mistral", {"messages": [{"role": "user", "content": "hi"}]}, job_id="b")),
        record(job(job_id="c")),
    )
    assert run(worker_module, ok1, throttled, ok2) == {throttled["messageId"]}
    assert get_job(worker_module, "a")["status"] == get_job(worker_module, "c")["status"] == "succeeded"
    retried = get_job(worker_module, "b")
    assert retried["status"] == "running" and retried["lastError"]["code"] == "ThrottlingException"

    emu.reset()
    assert run(worker_module, record(json.loads(throttled["body"]), receive_count=2)) == set()
    assert get_job(worker_module, "b")["status"] == "succeeded"
    assert get_job(worker_module, "b")["attempts"] == 2


def test_redelivery_after_success_never_invokes_again(worker_module, aws, emu):
    payload = job(job_id="once")
    first = record(payload)
    assert run(worker_module, first) == set()
    assert run(worker_module, dict(first, receiptHandle="again"), record(payload)) == set()
    assert emu.counters()["bodies"][body_sha(payload)]["calls"] == 1
    assert get_job(worker_module, "once")["attempts"] == 1


def test_duplicates_inside_one_batch_invoke_once(worker_module, aws, emu):
    payload = job(job_id="twin")
    failures = run(worker_module, record(payload), record(payload))
    # One copy runs; the other either sees the finished job or is retried while the first is in flight.
    assert emu.counters()["bodies"][body_sha(payload)]["calls"] == 1
    assert len(failures) <= 1
    assert get_job(worker_module, "twin")["status"] == "succeeded"


@pytest.mark.parametrize(
    "payload,code",
    [
        ("{not json", "InvalidRequest"),
        ('["a list"]', "InvalidRequest"),
        (json.dumps({"body": LLAMA}), "InvalidRequest"),
        (json.dumps({"target": "llama", "body": "text"}), "InvalidRequest"),
        (json.dumps({"target": "llama", "body": LLAMA, "extra": 1}), "InvalidRequest"),
        (json.dumps({"target": "nope", "body": LLAMA}), "TargetNotFound"),
        (
            json.dumps({"target": "anthropic.claude-3-haiku-20240307-v1:0", "body": LLAMA}),
            "RawModelIdNotAllowed",
        ),
        (json.dumps({"target": "llama", "body": {"inputText": "wrong family"}}), "ValidationException"),
    ],
)
def test_permanent_errors_fail_the_job_at_once(worker_module, aws, emu, payload, code):
    message = record(payload, message_id=f"bad-{uuid.uuid4()}")
    assert run(worker_module, message) == set()  # not retried
    stored = get_job(worker_module, message["messageId"])
    assert stored["status"] == "failed" and stored["error"]["code"] == code


def test_poison_message_does_not_block_its_batch(worker_module, aws):
    good = record(job(job_id="beside-poison"))
    assert run(worker_module, record("\x00garbage"), good) == set()
    assert get_job(worker_module, "beside-poison")["status"] == "succeeded"


def test_body_too_large_is_permanent(worker_module, aws, replace_config):
    replace_config(max_body_bytes=100)
    message = record(job(body={"prompt": "x" * 500, "max_gen_len": 5}, job_id="too-big"))
    assert run(worker_module, message) == set()
    assert get_job(worker_module, "too-big")["error"]["code"] == "PayloadTooLarge"


def test_transient_error_on_the_last_receive_fails_the_job_and_dead_letters(worker_module, aws, emu):
    emu.configure(
        model="us.meta.llama3-3-70b-instruct-v1:0",
        error={"type": "ServiceUnavailableException", "when": "before"},
    )
    message = record(job(job_id="doomed"), receive_count=settings.current().max_receive_count)
    assert run(worker_module, message) == {message["messageId"]}  # still failed, so SQS moves it to the DLQ
    stored = get_job(worker_module, "doomed")
    assert stored["status"] == "failed"
    assert stored["error"]["code"] == "ServiceUnavailableException"
    assert "gave up after 3 attempts" in stored["error"]["message"]


def test_large_results_go_to_s3_and_are_served_by_the_result_route(worker_module, aws, replace_settings):
    from bedrock_gateway.edge.jobs_view import job_document

    replace_settings(inline_result_bytes=50)
    assert run(worker_module, record(job(job_id="big-result"))) == set()
    stored = get_job(worker_module, "big-result")
    assert "result" not in stored and stored["resultKey"].endswith("/big-result.json")
    assert (
        job_document(stored, "big-result", "/v1/jobs/big-result/result")["resultUrl"]
        == "/v1/jobs/big-result/result"
    )
    fetched = json.loads(container.result_storage().get(stored["resultKey"]))
    assert "generation" in fetched
    head = aws.client("s3").head_object(Bucket=aws.env["RESULTS_BUCKET_NAME"], Key=stored["resultKey"])
    assert head["ServerSideEncryption"] == "AES256"


def test_a_batch_runs_concurrently(worker_module, aws, emu):
    emu.configure(model="us.meta.llama3-3-70b-instruct-v1:0", ttft_ms=500)
    records = [record(job()) for _ in range(10)]
    started = time.perf_counter()
    assert run(worker_module, *records) == set()
    elapsed = time.perf_counter() - started
    # Ten 500 ms calls one after another take 5 s; concurrently about 0.5 s. 3 s leaves room for a busy machine.
    assert elapsed < 3.0, elapsed


def test_dlq_after_max_receive_count_through_the_event_source(worker_module, aws, emu):
    """The local event source mapping: real SQS redelivery, visibility timeout and redrive to the DLQ."""
    from devstack.lambda_pool import run_handler

    class InProcess:
        def invoke(self, event):
            return run_handler("bedrock_gateway.handlers.worker.handler", event, "worker", 60_000)

    emu.configure(
        model="us.meta.llama3-3-70b-instruct-v1:0", error={"type": "ThrottlingException", "when": "before"}
    )
    sqs = aws.client("sqs")
    payload = job(job_id="to-dlq")
    sqs.send_message(QueueUrl=aws.env["JOBS_QUEUE_URL"], MessageBody=json.dumps(payload))
    poller = SqsPoller(sqs, aws.env["JOBS_QUEUE_URL"], InProcess(), concurrency=1, wait_seconds=1)
    deadline = time.monotonic() + 30
    dead = []
    while time.monotonic() < deadline and not dead:
        poller.poll_once()
        dead = sqs.receive_message(QueueUrl=aws.env["JOBS_DLQ_URL"], WaitTimeSeconds=0).get("Messages", [])
    assert dead and json.loads(dead[0]["Body"])["jobId"] == "to-dlq"
    stored = get_job(worker_module, "to-dlq")
    assert stored["status"] == "failed" and stored["attempts"] == 3
    assert emu.counters()["bodies"][body_sha(payload)]["calls"] == 3


def test_a_failed_state_write_after_the_model_answered_never_invokes_again(
    worker_module, aws, emu, monkeypatch
):
    store = container.job_store()
    real_succeed = store.succeed
    calls = {"n": 0}

    def flaky_succeed(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("DynamoDB hiccup")
        return real_succeed(*args, **kwargs)

    monkeypatch.setattr(store, "succeed", flaky_succeed)
    payload = job(job_id="write-fails-once")
    first = record(payload)
    assert run(worker_module, first) == {first["messageId"]}  # retried through SQS
    assert run(worker_module, record(payload, receive_count=2)) == set()
    assert get_job(worker_module, "write-fails-once")["status"] == "succeeded"
    assert emu.counters()["bodies"][body_sha(payload)]["calls"] == 1  # the saved outcome was reused


def test_a_duplicate_in_flight_never_fails_the_job_even_on_its_last_delivery(worker_module, aws, emu):
    from devstack.lambda_pool import LambdaFunction

    # Two Lambda-like processes, as two concurrent deliveries would run in AWS.
    function = LambdaFunction(
        "bedrock_gateway.handlers.worker.handler", concurrency=2, function_name="worker"
    )
    try:
        function.warm()
        emu.configure(model="us.meta.llama3-3-70b-instruct-v1:0", ttft_ms=2000)
        payload = job(job_id="slow-twin")
        first = function.submit({"Records": [record(payload)]})
        time.sleep(1.0)
        last = record(payload, receive_count=settings.current().max_receive_count)
        outcome = function.invoke({"Records": [last]})
        # Reported for a retry, not failed: the other delivery owns the job.
        assert outcome["result"]["batchItemFailures"] == [{"itemIdentifier": last["messageId"]}]
        assert get_job(worker_module, "slow-twin")["status"] == "running"
        assert first.result(timeout=15)["result"] == {"batchItemFailures": []}
    finally:
        function.close()
    assert get_job(worker_module, "slow-twin")["status"] == "succeeded"
    assert emu.counters()["bodies"][body_sha(payload)]["calls"] == 1


def test_a_dead_lettered_job_runs_again_when_its_message_is_redriven(worker_module, aws, emu):
    emu.configure(
        model="us.meta.llama3-3-70b-instruct-v1:0",
        error={"type": "ServiceUnavailableException", "when": "before"},
    )
    payload = job(job_id="redriven")
    run(worker_module, record(payload, receive_count=settings.current().max_receive_count))
    assert get_job(worker_module, "redriven")["status"] == "failed"
    emu.reset()
    assert run(worker_module, record(payload)) == set()  # the operator redrove the DLQ
    redone = get_job(worker_module, "redriven")
    assert redone["status"] == "succeeded" and "error" not in redone


def test_a_malformed_message_never_touches_an_existing_job(worker_module, aws):
    assert run(worker_module, record(job(job_id="innocent"))) == set()
    assert run(worker_module, record({"jobId": "innocent", "target": "llama"})) == set()  # no body
    assert get_job(worker_module, "innocent")["status"] == "succeeded"


def test_a_malformed_message_with_an_unusable_job_id_is_recorded_under_the_message_id(worker_module, aws):
    message = record({"jobId": "x" * 5000, "target": "llama"}, message_id="m-bad-id")
    assert run(worker_module, message) == set()
    assert get_job(worker_module, "m-bad-id")["status"] == "failed"
