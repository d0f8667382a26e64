"""The jobs queue and its dead-letter queue: encrypted (SSE-SQS, or a customer managed key), TLS-only,
with redrive."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from bedrock_gateway.core.jobs.store import LEASE_MARGIN_MS
from constructs import Construct

#: AWS's guidance for SQS event sources: visibility timeout at least six times the function timeout,
#: so a batch the poller retries while the function is throttled is not redelivered mid-flight.
VISIBILITY_TIMEOUT_FACTOR = 6
#: How long the DLQ consumer leaves a message it keeps before looking at it again (the DLQ's
#: visibility timeout): a redrive moves a kept message once this hold ends.
DEAD_LETTER_HOLD = Duration.minutes(15)


class JobQueue(Construct):
    """Producers (the API or anyone with ``sqs:SendMessage``) drop jobs here; a message received
    ``max_receive_count`` times moves to the DLQ, so nothing is silently lost.

    The visibility timeout also keeps the worker's job leases sound: a job's lease expires at most
    ``LEASE_MARGIN_MS`` after the worker's timeout, so a delivery that follows a dead one (only after
    the visibility timeout) always finds it expired."""

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
        visibility = Duration.seconds(consumer_timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR)
        if visibility.to_seconds() < consumer_timeout.to_seconds() + LEASE_MARGIN_MS / 1000:
            raise ValueError(
                "the jobs queue's visibility timeout must exceed the worker's timeout + lease margin"
            )
        self.dead_letter_queue_visibility = DEAD_LETTER_HOLD
        self.encryption_key = encryption_key
        encryption = sqs.QueueEncryption.KMS if encryption_key else sqs.QueueEncryption.SQS_MANAGED
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=encryption,
            encryption_master_key=encryption_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),  # the SQS maximum: time to inspect and redrive
            visibility_timeout=DEAD_LETTER_HOLD,
        )
        self.max_receive_count = max_receive_count
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=encryption,
            encryption_master_key=encryption_key,
            enforce_ssl=True,
            visibility_timeout=visibility,
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
