"""The SQS worker: invokes the model for each job and stores the result."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from bedrock_gateway.core.jobs.store import WORKER_OPERATIONS
from constructs import Construct

from infra.bedrock_access import BedrockResources
from infra.components.data_table import DataTable
from infra.components.gateway_function import (
    FunctionBasics,
    GatewayFunction,
    jobs_environment,
    trusted_senders_environment,
)
from infra.components.job_queue import JobQueue
from infra.components.results_bucket import ResultsBucket

HANDLER = "bedrock_gateway.handlers.worker.handler"
BATCH_SIZE = 10
#: The worker's Bedrock client waits up to 300 s for a response and does not retry (SQS does);
#: a minute more covers the DynamoDB and S3 writes around it. A job's lease lasts until this timeout
#: (plus a margin): the jobs queue's visibility timeout (6x) is what keeps redeliveries after it.
TIMEOUT = Duration.minutes(6)
#: A batch runs its records on BATCH_SIZE threads, each holding a whole model response.
MEMORY_MB = 1024


class JobWorker(Construct):
    """SQS event source with partial batch responses and a maximum concurrency that caps how many
    batches (and so Bedrock calls: concurrency x batch size) run at once, to stay within quotas."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        basics: FunctionBasics,
        bedrock: BedrockResources,
        queue: JobQueue,
        jobs_table: DataTable,
        results: ResultsBucket,
        max_concurrency: int,
        trusted_senders: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.gateway_function = GatewayFunction(
            self,
            "Handler",
            basics=basics,
            handler=HANDLER,
            description="Bedrock gateway: SQS job worker",
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment={
                **jobs_environment(
                    jobs_table, results, queue
                ),  # the queue: backoff by ChangeMessageVisibility
                **trusted_senders_environment(trusted_senders),
                # The last delivery hands a failing job straight on to the DLQ: same number as the redrive.
                "MAX_RECEIVE_COUNT": str(queue.max_receive_count),
                "WORKER_BATCH_CONCURRENCY": str(BATCH_SIZE),
            },
        )
        self.gateway_function.allow(
            *bedrock.invoke_statements(streaming=False),
            # The job record is state, lease and outcome: every write to it is conditional.
            jobs_table.item_access("TrackJobs", *WORKER_OPERATIONS),
        )
        results.grant_write_results(self.gateway_function.role)
        self.function = self.gateway_function.function
        self.alias = self.gateway_function.alias
        self.event_source = self.gateway_function.consume(
            queue.queue, batch_size=BATCH_SIZE, max_concurrency=max_concurrency
        )
