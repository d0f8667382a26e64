"""The Lambda SQS event source mapping, locally: poll, hand batches to the worker, honour the answer.

As in AWS: up to ``batch_size`` messages per event in Lambda's SQS record format; messages listed
in ``batchItemFailures`` (or all of them when the function fails) are left for the queue's
visibility timeout to redeliver; the rest are deleted. Redrive to the DLQ after maxReceiveCount
is the queue's own doing. ``concurrency`` pollers = the mapping's maximum concurrency.

Fault injection: ``duplicate_rate`` delivers that share of messages a second time at once, to another
execution environment (SQS is at-least-once: two consumers may hold one message together). Each
delivery's answer is honoured on its own, as SQS would.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from devstack.aws import MOTO_SENDER_ID, REGION


def to_lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """One SQS ReceiveMessage message as a Lambda SQS event record."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
            "SenderId": attributes.get("SenderId", MOTO_SENDER_ID),
            "ApproximateFirstReceiveTimestamp": attributes.get(
                "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
            ),
        },
        "messageAttributes": {
            name: {  # Lambda's spelling of ReceiveMessage's attributes
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


class SqsPoller:
    """Feeds ``function`` (a LambdaFunction) from ``queue_url`` until stopped."""

    def __init__(
        self,
        sqs,
        queue_url: str,
        function,
        *,
        batch_size: int = 10,
        concurrency: int = 2,
        wait_seconds: int = 1,
        duplicate_rate: float = 0.0,
        seed: int | None = None,
    ):
        self.sqs, self.queue_url, self.function = sqs, queue_url, function
        self.batch_size, self.concurrency, self.wait_seconds = batch_size, concurrency, wait_seconds
        self.duplicate_rate = duplicate_rate
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self.duplicates = 0
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.batches = 0
        self.busy_seconds = 0.0  # time spent waiting for the function's answers
        self.function_errors = 0

    def start(self) -> SqsPoller:
        for i in range(self.concurrency):
            thread = threading.Thread(target=self._run, name=f"sqs-poller-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # noqa: BLE001 - the mapping keeps polling, as in AWS
                if not self._stop.is_set():
                    print(f"sqs poller: {type(exc).__name__}: {exc}", flush=True)
                    time.sleep(0.5)

    def poll_once(self) -> int:
        """Receive one batch and process it; returns how many messages it held."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [to_lambda_record(m, self.queue_arn) for m in messages]}
        twins = self._duplicates(messages)
        twin_outcome = (
            self.function.submit({"Records": [to_lambda_record(m, self.queue_arn) for m in twins]})
            if twins
            else None
        )
        started = time.monotonic()
        outcome = self.function.invoke(event)
        self.busy_seconds += time.monotonic() - started
        self.batches += 1
        self._settle(messages, outcome)
        if twin_outcome is not None:
            self._settle(twins, twin_outcome.result())
        return len(messages)

    def _duplicates(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self.duplicate_rate:
            return []
        with self._rng_lock:
            twins = [m for m in messages if self._rng.random() < self.duplicate_rate]
            self.duplicates += len(twins)
        return twins

    def _settle(self, messages: list[dict[str, Any]], outcome: dict[str, Any]) -> None:
        """Delete what the function processed; leave the rest to the visibility timeout."""
        if not outcome["ok"]:
            self.function_errors += 1
            return  # the whole batch becomes visible again after the timeout
        failed = {
            item.get("itemIdentifier") for item in (outcome["result"] or {}).get("batchItemFailures", [])
        }
        ids = {m["MessageId"] for m in messages}
        if not failed <= ids:
            return  # an unknown identifier fails the whole batch, as in AWS
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start : start + 10])
            ]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.wait_seconds + 5)
