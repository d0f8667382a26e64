"""The local AWS stand-in keeps the promises the job store and the pollers rely on."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from bedrock_gateway.core.jobs.contract import parse_job
from bedrock_gateway.core.jobs.store import DynamoJobStore, now_ms
from devstack.aws import QueueSettings, redrive


def test_queue_settings_that_let_a_redelivery_meet_a_live_lease_are_refused():
    with pytest.raises(ValueError, match="lease"):
        QueueSettings(visibility_timeout=2, worker_timeout=300)  # what make chaos used to run
    QueueSettings(visibility_timeout=10, worker_timeout=8)


def test_concurrent_claims_of_one_job_grant_exactly_one(aws):
    """DynamoDB applies a conditional write atomically; moto's server did not (both claims passed)."""
    store = DynamoJobStore(aws.env["JOBS_TABLE_NAME"], aws.client("dynamodb"))
    for round_ in range(16):
        job = parse_job({"jobId": f"race-{round_}", "target": "llama", "body": {}})
        barrier = threading.Barrier(4)
        unrecorded = round_ % 2 == 0  # half by a put that only creates records, as a first delivery claims

        def claim(owner: str, job=job, barrier=barrier, unrecorded=unrecorded) -> bool:
            barrier.wait()
            return store.claim(job, owner, now_ms() + 60_000, None, unrecorded=unrecorded).claimed

        with ThreadPoolExecutor(4) as pool:
            granted = list(pool.map(claim, ["a", "b", "c", "d"]))
        assert granted.count(True) == 1, (round_, granted)


def test_concurrent_receives_never_hand_out_one_message_twice(aws):
    sqs = aws.client("sqs")
    url = aws.env["JOBS_QUEUE_URL"]
    for start in range(0, 60, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": json.dumps({"n": i})} for i in range(start, start + 10)],
        )
    received: list[str] = []
    lock = threading.Lock()

    def receive(_):
        client = aws.client("sqs")
        while True:
            messages = client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return
            with lock:
                received.extend(m["MessageId"] for m in messages)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(receive, range(6)))
    assert len(received) == len(set(received)) == 60


def test_a_redrive_keeps_the_message_attributes(aws):
    """The jobs API names a job's caller in a message attribute: redriven, the job stays its caller's."""
    sqs = aws.client("sqs")
    caller = {"caller": {"DataType": "String", "StringValue": "key:team-a"}}
    sqs.send_message(QueueUrl=aws.env["JOBS_DLQ_URL"], MessageBody="{}", MessageAttributes=caller)
    assert redrive(sqs, aws.env["JOBS_DLQ_URL"], aws.env["JOBS_QUEUE_URL"]) == 1
    [message] = sqs.receive_message(
        QueueUrl=aws.env["JOBS_QUEUE_URL"], MessageAttributeNames=["All"], WaitTimeSeconds=1
    )["Messages"]
    assert message["MessageAttributes"]["caller"]["StringValue"] == "key:team-a"
