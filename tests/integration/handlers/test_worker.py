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
from devstack.store_faults import StoreFaults

from tests.integration.conftest import WORKER_TIMEOUT_MS

LLAMA = {"prompt": "hello mars", "max_gen_len": 20}
LLAMA_MODEL = "us.meta.llama3-3-70b-instruct-v1:0"
WORKER = "bedrock_gateway.handlers.worker.handler"


def job(target="llama", body=None, job_id=None) -> dict:
    payload = {"target": target, "body": body or dict(LLAMA, prompt=f"job {uuid.uuid4()}")}
    if job_id:
        payload["jobId"] = job_id
    return payload


def record(payload, message_id=None, receive_count=1, sent_at_ms=None) -> dict:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    attributes = {"ApproximateReceiveCount": str(receive_count)}
    if sent_at_ms is not None:
        attributes["SentTimestamp"] = str(sent_at_ms)
    message = {
        "MessageId": message_id or str(uuid.uuid4()),
        "ReceiptHandle": str(uuid.uuid4()),
        "Body": body,
        "Attributes": attributes,
    }
    return to_lambda_record(message, "arn:aws:sqs:us-east-1:123456789012:bedrock-gateway-jobs")


def run(worker_module, *records) -> set[str]:
    context = LambdaContext(function_name="worker", timeout_ms=WORKER_TIMEOUT_MS)
    response = worker_module.handler({"Records": list(records)}, context)
    return {item["itemIdentifier"] for item in response["batchItemFailures"]}


def run_dead_letters(*records) -> set[str]:
    """The DLQ consumer on these DLQ records; the ids of the messages it keeps in the DLQ."""
    from bedrock_gateway.handlers import dead_letters

    response = dead_letters.handler({"Records": list(records)}, LambdaContext(function_name="dead-letters"))
    return {item["itemIdentifier"] for item in response["batchItemFailures"]}


def key_of(job_id: str) -> str:
    """The store key of a job a producer writing to the queue directly (moto's one SenderId) sent."""
    from bedrock_gateway.core.callers import iam_caller
    from bedrock_gateway.core.jobs.contract import job_key
    from devstack.aws import MOTO_SENDER_ID

    return job_key(iam_caller(MOTO_SENDER_ID).scope, job_id)


def get_job(worker_module, job_id):
    """The job a producer writing to the queue directly sent."""
    return container.job_store().get(key_of(job_id))


def status_of(worker_module, job_id) -> str | None:
    return (get_job(worker_module, job_id) or {}).get("status")


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
    assert "leaseExpiresAt" not in stored  # a finished job holds no lease


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


def test_the_last_delivery_hands_the_job_to_the_dlq_consumer_which_fails_it(worker_module, aws, emu):
    emu.configure(model=LLAMA_MODEL, error={"type": "ServiceUnavailableException", "when": "before"})
    message = record(job(job_id="doomed"), receive_count=settings.current().max_receive_count)
    assert run(worker_module, message) == {message["messageId"]}  # still failed: SQS moves it to the DLQ
    stored = get_job(worker_module, "doomed")
    assert stored["status"] == "running" and "leaseExpiresAt" not in stored  # released, not finished

    assert run_dead_letters(message) == {message["messageId"]}  # marked, and kept for a redrive
    stored = get_job(worker_module, "doomed")
    assert stored["status"] == "failed" and stored["error"]["code"] == "DeadLettered"
    assert stored["lastError"]["code"] == "ServiceUnavailableException"


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
    emu.configure(model=LLAMA_MODEL, ttft_ms=500)
    records = [record(job()) for _ in range(10)]
    started = time.perf_counter()
    assert run(worker_module, *records) == set()
    elapsed = time.perf_counter() - started
    # Ten 500 ms calls one after another take 5 s; concurrently about 0.5 s. 3 s leaves room for a busy machine.
    assert elapsed < 3.0, elapsed


class InProcess:
    """A function run in this process (the pollers' view of a Lambda function)."""

    def __init__(self, handler: str, timeout_ms: int):
        self.handler, self.timeout_ms = handler, timeout_ms

    def invoke(self, event):
        from devstack.lambda_pool import run_handler

        return run_handler(self.handler, event, "local", self.timeout_ms)


def _run_until_failed(worker_module, aws, sqs, job_id: str) -> tuple[SqsPoller, float]:
    """Run the event sources (the worker on the jobs queue, the DLQ consumer on the DLQ) until
    ``job_id`` is failed or 60 s have passed; returns the worker's poller and that deadline."""
    worker = SqsPoller(sqs, aws.env["JOBS_QUEUE_URL"], InProcess(WORKER, WORKER_TIMEOUT_MS), concurrency=1)
    consumer = SqsPoller(
        sqs, aws.env["JOBS_DLQ_URL"], InProcess("bedrock_gateway.handlers.dead_letters.handler", 30_000)
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and status_of(worker_module, job_id) != "failed":
        worker.poll_once()
        consumer.poll_once()
    return worker, deadline


def test_dlq_after_max_receive_count_through_the_event_sources(worker_module, aws, emu):
    """The local event source mappings: real SQS redelivery and redrive to the DLQ, where the DLQ
    consumer marks the job and leaves the message for a redrive."""
    emu.configure(model=LLAMA_MODEL, error={"type": "ThrottlingException", "when": "before"})
    sqs = aws.client("sqs")
    payload = job(job_id="to-dlq")
    sqs.send_message(QueueUrl=aws.env["JOBS_QUEUE_URL"], MessageBody=json.dumps(payload))
    _run_until_failed(worker_module, aws, sqs, "to-dlq")
    stored = get_job(worker_module, "to-dlq")
    assert stored["status"] == "failed" and stored["error"]["code"] == "DeadLettered"
    assert stored["attempts"] == 3 and stored["lastError"]["code"] == "ThrottlingException"
    assert emu.counters()["bodies"][body_sha(payload)]["calls"] == 3
    time.sleep(1.5)  # the DLQ's visibility timeout (the consumer's hold)
    kept = sqs.receive_message(QueueUrl=aws.env["JOBS_DLQ_URL"], WaitTimeSeconds=1).get("Messages", [])
    assert kept and json.loads(kept[0]["Body"])["jobId"] == "to-dlq"


def test_a_failed_outcome_write_is_retried_and_never_invokes_the_model_again(
    worker_module, aws, emu, store_faults
):
    # DynamoDB answers 500 to the outcome write more often than botocore's own retries absorb.
    proxy = store_faults(StoreFaults(error_rate=1.0, only="final-write", limit=5))
    payload = job(job_id="write-fails")
    assert run(worker_module, record(payload)) == set()
    assert get_job(worker_module, "write-fails")["status"] == "succeeded"
    assert proxy.counters["dynamodb-error"] == 5
    assert emu.counters()["bodies"][body_sha(payload)]["calls"] == 1


def test_an_outcome_write_applied_but_unanswered_is_recognised_on_retry(
    worker_module, aws, emu, store_faults
):
    # The write reaches DynamoDB, its answer never comes back: the retry meets its own finished job.
    proxy = store_faults(
        StoreFaults(timeout_rate=1.0, only="final-write", limit=1, when="after", hold_seconds=1.5),
        read_timeout=0.5,
    )
    payload = job(job_id="write-lost")
    assert run(worker_module, record(payload)) == set()
    stored = get_job(worker_module, "write-lost")
    assert stored["status"] == "succeeded" and proxy.counters["dynamodb-timeout-after"] == 1
    assert emu.counters()["bodies"][body_sha(payload)]["calls"] == 1


def test_a_throttled_store_never_loses_a_job(worker_module, aws, emu, store_faults):
    """Every DynamoDB and S3 call of the worker throttled or failing half the time, S3 results included."""
    from bedrock_gateway.core.jobs.store import DynamoJobStore

    store_faults(StoreFaults(throttle_rate=0.3, error_rate=0.2, seed=3))
    payloads = [job(job_id=f"store-{i}") for i in range(10)]
    pending = [record(p) for p in payloads]
    for attempt in range(2, 8):
        failed = run(worker_module, *pending)
        pending = [
            record(json.loads(r["body"]), receive_count=attempt) for r in pending if r["messageId"] in failed
        ]
        if not pending:
            break
    direct = DynamoJobStore(aws.env["JOBS_TABLE_NAME"], aws.client("dynamodb"))  # not through the faults
    assert [direct.get(key_of(p["jobId"]))["status"] for p in payloads] == ["succeeded"] * 10
    assert all(emu.counters()["bodies"][body_sha(p)]["succeeded"] == 1 for p in payloads)


def test_a_duplicate_in_flight_never_fails_the_job_even_on_its_last_delivery(worker_module, aws, emu):
    from devstack.lambda_pool import LambdaFunction

    # Two Lambda-like processes, as two concurrent deliveries would run in AWS.
    function = LambdaFunction(WORKER, concurrency=2, function_name="worker", timeout_ms=WORKER_TIMEOUT_MS)
    try:
        function.warm()
        emu.configure(model=LLAMA_MODEL, ttft_ms=2000)
        payload = job(job_id="slow-twin")
        first = function.submit({"Records": [record(payload)]})
        # The twin arrives once the first delivery holds the job (polled: a busy machine may take a while).
        deadline = time.monotonic() + 10
        while status_of(worker_module, "slow-twin") != "running":
            assert time.monotonic() < deadline, "the first delivery never claimed the job"
            time.sleep(0.05)
        last = record(payload, receive_count=settings.current().max_receive_count)
        outcome = function.invoke({"Records": [last]})
        # Reported for a retry, not failed: the other delivery owns the job (which may have finished
        # meanwhile on a slow machine, but was never failed).
        assert outcome["result"]["batchItemFailures"] == [{"itemIdentifier": last["messageId"]}]
        assert get_job(worker_module, "slow-twin")["status"] in ("running", "succeeded")
        assert first.result(timeout=15)["result"] == {"batchItemFailures": []}
    finally:
        function.close()
    assert get_job(worker_module, "slow-twin")["status"] == "succeeded"
    assert emu.counters()["bodies"][body_sha(payload)]["calls"] == 1


def test_a_dead_lettered_job_runs_again_when_its_message_is_redriven(worker_module, aws, emu):
    emu.configure(model=LLAMA_MODEL, error={"type": "ServiceUnavailableException", "when": "before"})
    payload = job(job_id="redriven")
    last = record(payload, receive_count=settings.current().max_receive_count)
    run(worker_module, last)
    run_dead_letters(last)
    assert get_job(worker_module, "redriven")["error"]["code"] == "DeadLettered"
    emu.reset()
    # A copy sent before the job was dead-lettered is not a redrive: the job stays as it is.
    assert run(worker_module, record(payload, sent_at_ms=int(time.time() * 1000) - 60_000)) == set()
    assert get_job(worker_module, "redriven")["status"] == "failed"
    # The operator redrove the DLQ: a new message, sent after.
    assert run(worker_module, record(payload)) == set()
    redone = get_job(worker_module, "redriven")
    assert redone["status"] == "succeeded" and "error" not in redone


def test_a_redrive_through_the_queues_finishes_the_job(worker_module, aws, emu):
    """Dead-lettered through the event sources, marked by the DLQ consumer, then an SQS redrive."""
    from devstack.aws import redrive

    emu.configure(model=LLAMA_MODEL, error={"type": "ServiceUnavailableException", "when": "before"})
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=aws.env["JOBS_QUEUE_URL"], MessageBody=json.dumps(job(job_id="round-trip")))
    worker, deadline = _run_until_failed(worker_module, aws, sqs, "round-trip")
    assert get_job(worker_module, "round-trip")["error"]["code"] == "DeadLettered"
    emu.reset()
    time.sleep(1.5)  # the consumer's hold on the DLQ message ends
    assert redrive(sqs, aws.env["JOBS_DLQ_URL"], aws.env["JOBS_QUEUE_URL"]) == 1
    while time.monotonic() < deadline and status_of(worker_module, "round-trip") != "succeeded":
        worker.poll_once()
    assert get_job(worker_module, "round-trip")["status"] == "succeeded"


def test_a_malformed_message_never_touches_an_existing_job(worker_module, aws):
    assert run(worker_module, record(job(job_id="innocent"))) == set()
    assert run(worker_module, record({"jobId": "innocent", "target": "llama"})) == set()  # no body
    assert get_job(worker_module, "innocent")["status"] == "succeeded"


def test_a_message_reusing_a_finished_jobs_id_for_another_request_is_not_run_and_says_so(
    worker_module, aws, emu, caplog
):
    first = job(job_id="taken")
    assert run(worker_module, record(first)) == set()
    finished = get_job(worker_module, "taken")
    other = job(job_id="taken")  # the same id, another body
    assert run(worker_module, record(other, message_id="m-other")) == set()  # deleted: it cannot run
    assert body_sha(other) not in emu.counters()["bodies"]
    assert get_job(worker_module, "taken") == finished
    (warning,) = [
        r for r in caplog.records if "conflicts with the job recorded under its id" in r.getMessage()
    ]
    assert (warning.levelname, warning.message_id, warning.job_id) == ("WARNING", "m-other", "taken")
    summary = [r for r in caplog.records if r.getMessage() == "batch done"][-1]
    assert summary.conflicting == 1  # and its JobsConflicting metric
    # The same request again is a plain duplicate, as before.
    assert run(worker_module, record(first)) == set()
    assert emu.counters()["bodies"][body_sha(first)]["calls"] == 1


def test_a_queued_job_is_claimed_only_by_its_own_request(worker_module, aws, emu):
    from bedrock_gateway.core.callers import iam_caller
    from bedrock_gateway.core.jobs.contract import JobRequest
    from devstack.aws import MOTO_SENDER_ID

    # As POST /v1/jobs records it before its message is sent.
    queued = job(job_id="booked")
    request = JobRequest("booked", queued["target"], queued["body"], scope=iam_caller(MOTO_SENDER_ID).scope)
    container.job_store().create(request)
    intruder = job(job_id="booked")
    assert run(worker_module, record(intruder)) == set()
    assert get_job(worker_module, "booked")["status"] == "queued"
    assert body_sha(intruder) not in emu.counters()["bodies"]
    assert run(worker_module, record(queued)) == set()
    assert get_job(worker_module, "booked")["status"] == "succeeded"


@pytest.fixture
def store_calls():
    """The DynamoDB operations the job store sends, in order (read off botocore's events)."""
    client = container.job_store().dynamodb
    calls: list[str] = []

    def note(model, **_):
        calls.append(model.name)

    client.meta.events.register("before-call.dynamodb", note)
    yield calls
    client.meta.events.unregister("before-call.dynamodb", note)


def test_a_producers_job_costs_two_puts_the_jobs_apis_an_update_and_a_put(worker_module, aws, store_calls):
    from bedrock_gateway.core.callers import from_owner
    from bedrock_gateway.core.jobs.contract import JobRequest
    from bedrock_gateway.core.jobs.store import WORKER_OPERATIONS

    assert run(worker_module, record(job(job_id="direct"))) == set()
    assert store_calls == ["PutItem", "PutItem"]  # created running, then finished whole

    store_calls.clear()
    queued = job(job_id="via-api")
    request = JobRequest("via-api", queued["target"], queued["body"], scope=from_owner("key:team-a").scope)
    created, _ = container.job_store().create(request)  # as POST /v1/jobs records it before its message
    store_calls.clear()
    message = record(queued)
    message["messageAttributes"] = {"caller": {"stringValue": "key:team-a", "dataType": "String"}}
    assert run(worker_module, message) == set()
    assert store_calls == ["UpdateItem", "PutItem"]  # its record exists: claimed, then finished whole
    finished = container.job_store().get(request.key)
    assert finished["status"] == "succeeded" and finished["createdAt"] == created["createdAt"]

    store_calls.clear()
    assert run(worker_module, record(job(job_id="again"), receive_count=2)) == set()
    assert store_calls == ["UpdateItem", "PutItem"]  # a redelivery most likely finds its record
    assert set(store_calls) <= set(WORKER_OPERATIONS)  # what the worker's role is granted


def test_a_claim_by_put_makes_the_record_the_claim_by_update_makes(aws):
    from bedrock_gateway.core.jobs.contract import JobRequest
    from bedrock_gateway.core.jobs.store import now_ms

    store = container.job_store()
    lease = now_ms() + 60_000
    records = []
    for job_id, unrecorded in (("by-put", True), ("by-update", False)):
        assert store.claim(
            JobRequest(job_id, "llama", {"prompt": "hi"}), "owner", lease, None, unrecorded=unrecorded
        )
        records.append(store.get(job_id))
    by_put, by_update = ({k: v for k, v in r.items() if k != "jobId"} for r in records)
    assert by_put.keys() == by_update.keys()
    moments = {"startedAt", "updatedAt", "createdAt", "expiresAt"}  # a second apart at most
    assert {k: v for k, v in by_put.items() if k not in moments} == {
        k: v for k, v in by_update.items() if k not in moments
    }
    assert by_put["status"] == "running" and by_put["attempts"] == 1 and by_put["leaseExpiresAt"] == lease


def test_a_finished_record_is_the_claimed_one_with_its_outcome_and_no_lease(aws):
    from bedrock_gateway.core.errors import ErrorCode, GatewayError
    from bedrock_gateway.core.jobs.contract import JobRequest
    from bedrock_gateway.core.jobs.store import now_ms

    store = container.job_store()
    request = JobRequest("finished-whole", "llama", {"prompt": "hi"})
    assert store.claim(request, "first", now_ms() + 60_000, None, unrecorded=True).claimed
    assert store.release(request.key, "first", GatewayError(ErrorCode.INTERNAL, "retry me"))
    held = store.claim(request, "second", now_ms() + 60_000, None).held  # the released job, again
    assert held is not None
    claimed = store.get(request.key)
    assert claimed["lastError"]["message"] == "retry me" and claimed["attempts"] == 2

    assert store.succeed(held, {"inputTokens": 3, "outputTokens": None}, result="{}")
    final = store.get(request.key)
    kept = {k: v for k, v in claimed.items() if k not in ("lastError", "leaseExpiresAt", "updatedAt")}
    assert {k: v for k, v in final.items() if k not in ("finishedAt", "updatedAt")} == {
        **kept,
        "status": "succeeded",
        "usage": {"inputTokens": 3},
        "result": "{}",
    }
    assert store.succeed(held, {"inputTokens": 3}, result="{}")  # a retried write recognises itself
    assert not store.fail(held, GatewayError(ErrorCode.VALIDATION, "no"))  # never over a final record
    assert store.get(request.key) == final


def test_an_outcome_after_the_lease_went_to_another_delivery_changes_nothing(aws):
    """The outcome is the claimed record put whole: a late holder's must never replace the new one's."""
    from bedrock_gateway.core.errors import ErrorCode, GatewayError
    from bedrock_gateway.core.jobs.contract import JobRequest
    from bedrock_gateway.core.jobs.store import now_ms

    store = container.job_store()
    request = JobRequest("lease-lost", "llama", {"prompt": "hi"})
    late = store.claim(request, "late", now_ms() - 1, None, unrecorded=True).held  # its lease over already
    current = store.claim(request, "current", now_ms() + 60_000, None, unrecorded=True).held
    assert late is not None and current is not None
    before = store.get(request.key)
    assert not store.succeed(late, {"inputTokens": 1}, result="{}")
    assert not store.fail(late, GatewayError(ErrorCode.VALIDATION, "no"))
    assert store.get(request.key) == before
    assert store.succeed(current, {"inputTokens": 2}, result='{"a":1}')
    assert store.get(request.key)["leaseOwner"] == "current"


def test_a_claim_by_put_that_finds_a_record_decides_as_the_update_does(aws):
    from bedrock_gateway.core.jobs.contract import JobRequest
    from bedrock_gateway.core.jobs.store import now_ms

    store = container.job_store()
    request = JobRequest("taken-twice", "llama", {"prompt": "hi"})
    assert store.claim(request, "first", now_ms() + 60_000, None, unrecorded=True).claimed
    taken = store.claim(request, "second", now_ms() + 60_000, None, unrecorded=True)
    assert not taken.claimed and taken.leased_until_ms is not None  # leased to the first delivery
    held = store.claim(request, "first", now_ms() + 60_000, None, unrecorded=True).held  # its own retry
    assert held is not None
    assert store.get("taken-twice")["attempts"] == 2
    other = store.claim(
        JobRequest("taken-twice", "llama", {"prompt": "other"}), "third", 0, None, unrecorded=True
    )
    assert not other.claimed and other.conflict
    assert store.succeed(held, {"inputTokens": 1}, result="{}")
    late = store.claim(request, "fourth", now_ms() + 60_000, None, unrecorded=True)
    assert not late.claimed and late.leased_until_ms is None and not late.conflict  # final


def test_a_dead_lettered_message_of_another_request_never_fails_the_job(worker_module, aws, emu, caplog):
    from bedrock_gateway.core.callers import iam_caller
    from bedrock_gateway.core.jobs.contract import JobRequest
    from devstack.aws import MOTO_SENDER_ID

    queued = job(job_id="victim")
    request = JobRequest("victim", queued["target"], queued["body"], scope=iam_caller(MOTO_SENDER_ID).scope)
    container.job_store().create(request)
    assert run_dead_letters(record(job(job_id="victim"), message_id="m-stray")) == set()  # deleted
    assert get_job(worker_module, "victim")["status"] == "queued"
    assert any("conflicts with the job recorded under its id" in r.getMessage() for r in caplog.records)
    assert run(worker_module, record(queued)) == set()
    assert get_job(worker_module, "victim")["status"] == "succeeded"


def test_a_valid_message_reusing_a_malformed_ones_job_id_is_a_conflict_not_a_silent_skip(
    worker_module, aws, emu, caplog
):
    assert run(worker_module, record({"jobId": "fixme", "target": "llama"})) == set()  # no body
    assert get_job(worker_module, "fixme")["status"] == "failed"
    fixed = job(job_id="fixme")
    assert run(worker_module, record(fixed)) == set()
    assert body_sha(fixed) not in emu.counters()["bodies"]  # a final job stays final
    assert get_job(worker_module, "fixme")["error"]["code"] == "InvalidRequest"
    assert any("conflicts with the job recorded under its id" in r.getMessage() for r in caplog.records)


def test_a_malformed_message_with_an_unusable_job_id_is_recorded_under_the_message_id(worker_module, aws):
    message = record({"jobId": "x" * 5000, "target": "llama"}, message_id="m-bad-id")
    assert run(worker_module, message) == set()
    assert get_job(worker_module, "m-bad-id")["status"] == "failed"


def test_a_delivery_killed_mid_call_holds_the_job_no_longer_than_its_deadline(worker_module, aws, emu):
    """A killed invocation used to leave a lock (Powertools' INPROGRESS record) that made every
    redelivery skip the job until its message was dead-lettered, the job `running` forever. Its lease
    now ends with the dead invocation's deadline (plus the margin), which the queue's visibility
    timeout outlasts: the next delivery runs the job, calling the model again (at-least-once)."""
    from bedrock_gateway.core.jobs.store import LEASE_MARGIN_MS, now_ms
    from devstack.lambda_pool import LambdaFunction

    function = LambdaFunction(WORKER, concurrency=1, function_name="worker", timeout_ms=3000)
    try:
        function.warm()
        emu.configure(model=LLAMA_MODEL, ttft_ms=1500)
        payload = job(job_id="killed-mid-call")
        started = now_ms()
        first = function.submit({"Records": [record(payload)]})
        deadline = time.monotonic() + 30
        while not function.busy() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.7)  # the model call is in flight
        assert function.kill() is not None
        assert first.result(timeout=30)["errorType"] == "Runtime.ExitError"
    finally:
        function.close()
    held = get_job(worker_module, "killed-mid-call")
    assert held["status"] == "running"
    assert held["leaseExpiresAt"] <= started + 3000 + LEASE_MARGIN_MS + 1000
    assert held["leaseExpiresAt"] < started + settings_visibility_ms(aws)
    time.sleep(max(0, held["leaseExpiresAt"] - now_ms()) / 1000 + 0.1)
    assert run(worker_module, record(payload, receive_count=2)) == set()  # the redelivery
    assert get_job(worker_module, "killed-mid-call")["status"] == "succeeded"
    time.sleep(1.0)  # the killed call's answer, produced after its caller died, is counted too
    assert emu.counters()["bodies"][body_sha(payload)]["succeeded"] == 2


def settings_visibility_ms(aws) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=aws.env["JOBS_QUEUE_URL"], AttributeNames=["VisibilityTimeout"]
    )["Attributes"]
    return int(attributes["VisibilityTimeout"]) * 1000
