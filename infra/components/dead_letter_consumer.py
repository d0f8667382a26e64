"""The DLQ consumer: marks every job whose message reaches the jobs DLQ as failed (``DeadLettered``)
and leaves the message there for a redrive."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from constructs import Construct

from infra.components.data_table import DataTable
from infra.components.gateway_function import FunctionBasics, GatewayFunction, trusted_senders_environment
from infra.components.job_queue import JobQueue

HANDLER = "bedrock_gateway.handlers.dead_letters.handler"
BATCH_SIZE = 10
#: Ten conditional writes at most; the DLQ's visibility timeout (its hold on kept messages) is far longer.
TIMEOUT = Duration.seconds(30)
MEMORY_MB = 256
#: A trickle: dead letters are rare, and the table is the worker's too.
MAX_CONCURRENCY = 2


class DeadLetterConsumer(Construct):
    """SQS event source on the DLQ with partial batch responses: a message it keeps (its job marked)
    is reported as a batch item failure, so the event source leaves it in the DLQ, invisible for the
    DLQ's visibility timeout; a message whose job finished anyway is deleted."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        basics: FunctionBasics,
        queue: JobQueue,
        jobs_table: DataTable,
        trusted_senders: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        if queue.dead_letter_queue_visibility.to_seconds() < 6 * TIMEOUT.to_seconds():
            raise ValueError("the DLQ's visibility timeout must be at least 6x the DLQ consumer's timeout")
        self.gateway_function = GatewayFunction(
            self,
            "Handler",
            basics=basics,
            handler=HANDLER,
            description="Bedrock gateway: DLQ consumer (marks dead-lettered jobs failed)",
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment={
                "JOBS_TABLE_NAME": jobs_table.table.table_name,
                # To hold a message until the lease of a job still in flight expires.
                "JOBS_DLQ_URL": queue.dead_letter_queue.queue_url,
                # The job's key is its caller's, read from the message exactly as the worker reads it.
                **trusted_senders_environment(trusted_senders),
            },
        )
        # Every write is a conditional UpdateItem (mark, or record a malformed message's job).
        self.gateway_function.allow(jobs_table.item_access("MarkDeadLetteredJobs", "UpdateItem"))
        self.function = self.gateway_function.function
        self.alias = self.gateway_function.alias
        self.event_source = self.gateway_function.consume(
            queue.dead_letter_queue, batch_size=BATCH_SIZE, max_concurrency=MAX_CONCURRENCY
        )
