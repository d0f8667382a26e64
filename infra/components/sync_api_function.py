"""The sync API function: invoke, list targets, health, and the jobs routes."""

from __future__ import annotations

from aws_cdk import Duration
from constructs import Construct

from infra.bedrock_access import BedrockResources
from infra.components.data_table import DataTable
from infra.components.gateway_function import FunctionBasics, GatewayFunction, jobs_environment
from infra.components.job_queue import JobQueue
from infra.components.results_bucket import ResultsBucket

HANDLER = "bedrock_gateway.handlers.api.handler"
#: API Gateway's REST integration timeout is 29 s; the handler's Bedrock client gives up at 25 s
#: per read, so the function never outlives the request it answers.
TIMEOUT = Duration.seconds(29)
#: CPU scales with memory: 1 GB keeps cold starts (botocore + Powertools imports) and JSON work short on
#: the latency-sensitive path.
MEMORY_MB = 1024


class SyncApiFunction(Construct):
    """Behind the proxy integrations; enqueues jobs (writes the job record, then SendMessage) and
    reads them back, with presigned URLs for large results."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        basics: FunctionBasics,
        bedrock: BedrockResources,
        jobs_table: DataTable,
        queue: JobQueue,
        results: ResultsBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.gateway_function = GatewayFunction(
            self,
            "Handler",
            basics=basics,
            handler=HANDLER,
            description="Bedrock gateway: sync invoke, targets, health and jobs API",
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment=jobs_environment(jobs_table, results, queue),
        )
        self.gateway_function.allow(
            *bedrock.invoke_statements(streaming=False),  # InvokeModel also authorizes Converse
            *bedrock.count_tokens_statements(),  # POST /model/{modelId}/count-tokens
            *bedrock.lookup_statements(),  # GET /v1/targets reports streaming support
            # create (conditional put), read, and undo when the message could not be enqueued
            jobs_table.item_access("ManageJobRecords", "PutItem", "GetItem", "DeleteItem"),
            *queue.send_jobs(),
        )
        results.grant_read_results(self.gateway_function.role)
        self.function = self.gateway_function.function
        self.alias = self.gateway_function.alias  # what API Gateway invokes
