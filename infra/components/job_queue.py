"""The jobs queue and its dead-letter queue: encrypted, TLS-only, with redrive."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

#: AWS's guidance for SQS event sources: visibility timeout at least six times the function timeout,
#: so a batch the poller retries while the function is throttled is not redelivered mid-flight.
VISIBILITY_TIMEOUT_FACTOR = 6


class JobQueue(Construct):
    """Producers (the API or anyone with ``sqs:SendMessage``) drop jobs here; a message received
    ``max_receive_count`` times moves to the DLQ, so nothing is silently lost."""

    def __init__(
        self, scope: Construct, construct_id: str, *, consumer_timeout: Duration, max_receive_count: int
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),  # the SQS maximum: time to inspect and redrive
        )
        self.max_receive_count = max_receive_count
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(consumer_timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=max_receive_count
            ),
        )

    def send_jobs(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid="EnqueueJobs", actions=["sqs:SendMessage"], resources=[self.queue.queue_arn]
        )
