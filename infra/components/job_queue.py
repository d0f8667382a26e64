"""The jobs queue and its dead-letter queue: encrypted (SSE-SQS, or a customer managed key), TLS-only,
with redrive."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

#: AWS's guidance for SQS event sources: visibility timeout at least six times the function timeout,
#: so a batch the poller retries while the function is throttled is not redelivered mid-flight.
VISIBILITY_TIMEOUT_FACTOR = 6


class JobQueue(Construct):
    """Producers (the API or anyone with ``sqs:SendMessage``) drop jobs here; a message received
    ``max_receive_count`` times moves to the DLQ, so nothing is silently lost."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        consumer_timeout: Duration,
        max_receive_count: int,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.encryption_key = encryption_key
        encryption = sqs.QueueEncryption.KMS if encryption_key else sqs.QueueEncryption.SQS_MANAGED
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=encryption,
            encryption_master_key=encryption_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),  # the SQS maximum: time to inspect and redrive
        )
        self.max_receive_count = max_receive_count
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=encryption,
            encryption_master_key=encryption_key,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(consumer_timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=max_receive_count
            ),
        )

    def send_jobs(self) -> list[iam.PolicyStatement]:
        """SendMessage on the jobs queue; with a customer managed key, also what a producer needs of
        the key (SQS Developer Guide, "Amazon SQS key management": GenerateDataKey and Decrypt)."""
        statements = [
            iam.PolicyStatement(
                sid="EnqueueJobs", actions=["sqs:SendMessage"], resources=[self.queue.queue_arn]
            )
        ]
        if self.encryption_key is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="EncryptJobMessages",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[self.encryption_key.key_arn],
                )
            )
        return statements
