"""The DLQ consumer: every job whose message reaches the DLQ ends final and says so; the message stays."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from bedrock_gateway import container
from bedrock_gateway.core.callers import iam_caller, key_caller
from bedrock_gateway.core.jobs.contract import job_key, parse_job
from bedrock_gateway.core.jobs.store import now_ms
from devstack.apigw import LambdaContext
from devstack.aws import MOTO_SENDER_ID
from devstack.poller import to_lambda_record

LLAMA = {"prompt": "hello mars", "max_gen_len": 20}
#: The namespace of a producer writing to the queue directly (moto's one SenderId): the tests' jobs.
SCOPE = iam_caller(MOTO_SENDER_ID).scope


def key(job_id: str) -> str:
    return job_key(SCOPE, job_id)


@pytest.fixture
def dlq(aws):
    """Put a message in the (real, local) DLQ and receive it, as the DLQ's event source would."""
    sqs = aws.client("sqs")

    def deliver(payload, caller: str | None = None) -> dict:
        """``caller``: the message's ``caller`` attribute, as the jobs API sets it."""
        body = payload if isinstance(payload, str) else json.dumps(payload)
        attributes = {"caller": {"DataType": "String", "StringValue": caller}} if caller else {}
        sqs.send_message(QueueUrl=aws.env["JOBS_DLQ_URL"], MessageBody=body, MessageAttributes=attributes)
        [message] = sqs.receive_message(
            QueueUrl=aws.env["JOBS_DLQ_URL"],
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=1,
        )["Messages"]
        return to_lambda_record(message, "arn:aws:sqs:us-east-1:123456789012:bedrock-gateway-jobs-dlq")

    def visible() -> list[dict]:
        return sqs.receive_message(QueueUrl=aws.env["JOBS_DLQ_URL"], WaitTimeSeconds=0).get("Messages", [])

    return deliver, visible


def consume(*records) -> set[str]:
    """Run the DLQ consumer; the ids of the messages it keeps in the DLQ."""
    from bedrock_gateway.handlers import dead_letters

    response = dead_letters.handler({"Records": list(records)}, LambdaContext(function_name="dead-letters"))
    return {item["itemIdentifier"] for item in response["batchItemFailures"]}


def payload(job_id: str) -> dict:
    return {"jobId": job_id, "target": "llama", "body": LLAMA}


def test_a_queued_job_whose_deliveries_all_died_is_failed_and_its_message_kept(aws, dlq):
    """Its last delivery died before the worker ran (timeout, out of memory, init failure)."""
    from bedrock_gateway.edge.jobs_view import job_document

    deliver, _ = dlq
    store = container.job_store()
    store.create(parse_job(payload("never-ran"), scope=SCOPE))
    message = deliver(payload("never-ran"))
    assert consume(message) == {message["messageId"]}
    view = job_document(store.get(key("never-ran")), "never-ran", "/v1/jobs/never-ran/result")
    assert view["status"] == "failed" and view["error"]["code"] == "DeadLettered"
    assert "finishedAt" in view and view["target"] == "llama"


def test_a_job_nobody_recorded_is_recorded_as_dead_lettered(aws, dlq):
    deliver, _ = dlq
    message = deliver({"target": "llama", "body": LLAMA})  # a direct producer, no jobId
    assert consume(message) == {message["messageId"]}
    stored = container.job_store().get(key(message["messageId"]))
    assert stored["status"] == "failed" and stored["error"]["code"] == "DeadLettered"


def test_a_jobs_api_job_is_marked_in_its_callers_namespace(aws, dlq):
    """The jobs API names the job's caller in a message attribute, which the message keeps in the DLQ:
    the consumer reads it as the worker does (from a trusted sender) and marks the caller's job, not a
    job of the same id in the sender's namespace."""
    deliver, _ = dlq
    tenant = key_caller("team-a", None)
    store = container.job_store()
    store.create(parse_job(payload("api-job"), scope=tenant.scope))
    message = deliver(payload("api-job"), caller=tenant.owner)
    assert consume(message) == {message["messageId"]}
    assert store.get(job_key(tenant.scope, "api-job"))["error"]["code"] == "DeadLettered"
    assert store.get(key("api-job")) is None


def test_a_job_still_held_by_a_live_delivery_is_left_to_it_until_its_lease_expires(aws, dlq):
    deliver, visible = dlq
    store = container.job_store()
    job = parse_job(payload("still-running"), scope=SCOPE)
    assert store.claim(job, "other-delivery", now_ms() + 2000, None).claimed
    message = deliver(payload("still-running"))
    assert consume(message) == {message["messageId"]}
    assert store.get(key("still-running"))["status"] == "running"  # never failed under a live lease
    assert visible() == []  # held until the lease runs out...
    time.sleep(5)
    [again] = visible()  # ...then back, and now the job is dead-lettered
    assert consume(to_lambda_record(again, "arn:aws:sqs:us-east-1:123456789012:dlq")) == {again["MessageId"]}
    assert store.get(key("still-running"))["error"]["code"] == "DeadLettered"


@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_a_job_that_finished_anyway_is_left_alone_and_its_message_deleted(aws, dlq, status):
    from bedrock_gateway.core.errors import ErrorCode, GatewayError

    deliver, _ = dlq
    store = container.job_store()
    job_id = f"finished-{uuid.uuid4().hex[:6]}"
    held = store.claim(parse_job(payload(job_id), scope=SCOPE), "owner", now_ms() + 60_000, None).held
    assert held is not None
    if status == "succeeded":
        assert store.succeed(held, {"inputTokens": 1, "outputTokens": 2}, result="{}")
    else:
        assert store.fail(held, GatewayError(ErrorCode.VALIDATION, "bad body"))
    before = store.get(key(job_id))
    message = deliver(payload(job_id))
    assert consume(message) == set()  # nothing to redrive
    assert store.get(key(job_id)) == before


def test_marking_is_idempotent(aws, dlq):
    deliver, _ = dlq
    message = deliver(payload("twice"))
    consume(message)
    first = container.job_store().get(key("twice"))
    assert consume(message) == {message["messageId"]}
    assert container.job_store().get(key("twice")) == first


def test_a_malformed_message_is_recorded_like_the_worker_would_and_deleted(aws, dlq):
    deliver, _ = dlq
    message = deliver("{not json")
    assert consume(message) == set()
    assert container.job_store().get(key(message["messageId"]))["error"]["code"] == "InvalidRequest"


def test_an_unreachable_store_fails_the_invocation_and_keeps_every_message(aws, dlq, monkeypatch):
    from bedrock_gateway.handlers import dead_letters

    deliver, _ = dlq
    message = deliver(payload("no-store"))
    monkeypatch.setenv("JOBS_TABLE_NAME", "no-such-table")
    from bedrock_gateway import settings

    settings.reset()
    container.reset()
    with pytest.raises(dead_letters.DeadLetterError):
        consume(message)
