"""SQS, DynamoDB and S3 on this machine: moto in server mode, with the stack's queue, tables and bucket.

Resource settings mirror the deployed stack where behaviour depends on them (DLQ redrive with
maxReceiveCount, visibility timeout, the idempotency table's key schema).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

REGION = "us-east-1"
MOTO_SENDER_ID = "AIDAIT2UOQQY3AUEKVGXU"  # moto.sqs.models.DEFAULT_SENDER_ID


@dataclass
class QueueSettings:
    # Seconds. At least the worker's timeout (300 s), as AWS requires of an event source's queue, or a
    # slow model call would be delivered again while it runs; the deployed queue uses 6x. Retries come
    # sooner anyway: the worker sets each failed message's visibility to its backoff.
    visibility_timeout: int = 360
    max_receive_count: int = 5
    retry_base_seconds: float = 1.0  # worker backoff base; 10 s in AWS


class LocalAws:
    """moto server plus the stack's resources; ``env`` holds what the handlers need to find them."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, settings: QueueSettings | None = None):
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per SQS poll otherwise

        self.settings = settings or QueueSettings()
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.url = ""
        self.env: dict[str, str] = {}

    def start(self) -> LocalAws:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        endpoints = {f"AWS_ENDPOINT_URL_{svc}": self.url for svc in ("SQS", "DYNAMODB", "S3")}
        os.environ.update(endpoints)
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        self.env = dict(endpoints, **self.create_resources())
        os.environ.update(self.env)
        return self

    def client(self, service: str):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def create_resources(self, suffix: str = "") -> dict[str, str]:
        """The stack's queue, DLQ, tables and bucket (names end in ``suffix``); returns their env."""
        sqs, dynamodb, s3 = self.client("sqs"), self.client("dynamodb"), self.client("s3")
        dlq_url = sqs.create_queue(QueueName=f"bedrock-gateway-jobs-dlq{suffix}")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue_url = sqs.create_queue(
            QueueName=f"bedrock-gateway-jobs{suffix}",
            Attributes={
                "VisibilityTimeout": str(self.settings.visibility_timeout),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": self.settings.max_receive_count}
                ),
            },
        )["QueueUrl"]
        jobs_table, idempotency_table = (
            f"bedrock-gateway-jobs{suffix}",
            f"bedrock-gateway-idempotency{suffix}",
        )
        keys_table = f"bedrock-gateway-keys{suffix}"
        for table, key in ((jobs_table, "jobId"), (idempotency_table, "id"), (keys_table, "keyHash")):
            dynamodb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            )
        bucket = f"bedrock-gateway-results{suffix}"
        s3.create_bucket(Bucket=bucket)
        return {
            "JOBS_QUEUE_URL": queue_url,
            "JOBS_DLQ_URL": dlq_url,
            "JOBS_TABLE_NAME": jobs_table,
            "IDEMPOTENCY_TABLE_NAME": idempotency_table,
            "KEYS_TABLE_NAME": keys_table,
            "RESULTS_BUCKET_NAME": bucket,
            "MAX_RECEIVE_COUNT": str(self.settings.max_receive_count),
            # moto gives every message the same SenderId, so locally the jobs API and a producer writing
            # to the queue directly look alike: both are trusted to name the job's caller.
            "TRUSTED_JOB_SENDERS": MOTO_SENDER_ID,
            "RETRY_BASE_SECONDS": str(self.settings.retry_base_seconds),
        }

    def stop(self) -> None:
        self._server.stop()
