"""A Lambda function with the project's common settings and its own least-privilege role."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Annotations, Duration, Fn, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from bedrock_gateway import observability
from constructs import Construct

from infra import lambda_platform
from infra.components.data_table import DataTable
from infra.components.job_queue import JobQueue
from infra.components.results_bucket import ResultsBucket
from infra.nag import acknowledge

# The names the handlers log and publish metrics under (bedrock_gateway.observability).
SERVICE_NAME = observability.SERVICE
METRICS_NAMESPACE = observability.NAMESPACE
LOG_LEVEL = "INFO"


#: The alias every caller invokes (API Gateway, the SQS event source mapping, the authorizer): it names
#: the version the current deployment published, which SnapStart needs (it never applies to $LATEST).
LIVE_ALIAS = "live"


@dataclass(frozen=True)
class FunctionBasics:
    """What every function of the stack shares: the asset, the targets file inside it, log retention,
    what happens to its logs when the stack goes, and whether versions get a SnapStart snapshot."""

    code: lambda_.Code
    targets_file: str
    log_retention: logs.RetentionDays
    removal_policy: RemovalPolicy
    snap_start: bool = False


class GatewayFunction(Construct):
    """arm64, the current Python runtime, active X-Ray tracing, JSON logs into a log group with
    retention, Powertools settings, and a role that starts with nothing but its own log group.

    Each deployment publishes a version (``function.current_version``: a new one whenever the code or
    configuration changes) and points the :data:`LIVE_ALIAS` alias at it; callers invoke ``alias``.
    With ``basics.snap_start`` the version is published with a SnapStart snapshot.

    The role is created here rather than by ``lambda.Function`` so that it carries no AWS managed
    policy (AWSLambdaBasicExecutionRole allows writing to any log group).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        basics: FunctionBasics,
        handler: str,
        description: str,
        memory_size: int,
        timeout: Duration,
        environment: Mapping[str, str],
        layers: Sequence[lambda_.ILayerVersion] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=basics.log_retention, removal_policy=basics.removal_policy
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=lambda_platform.RUNTIME,
            architecture=lambda_platform.ARCHITECTURE,
            code=basics.code,
            handler=handler,
            memory_size=memory_size,
            timeout=timeout,
            role=self.role,
            layers=list(layers),
            tracing=lambda_.Tracing.ACTIVE,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if basics.snap_start else None,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            environment={
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": LOG_LEVEL,
                "TARGETS_FILE": basics.targets_file,
                **environment,
            },
        )
        self.alias = lambda_.Alias(self, "Live", alias_name=LIVE_ALIAS, version=self.function.current_version)
        if basics.snap_start:
            # CDK warns that SnapStart needs published versions: the alias above is on one.
            Annotations.of(self.function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "every deployment publishes a version (current_version) and callers invoke its live alias",
            )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Only X-Ray's xray:PutTraceSegments and xray:PutTelemetryRecords use Resource '*' (added by "
            "active tracing): X-Ray has no resource-level permissions. Bedrock, data and queue statements "
            "are scoped to ARNs, which the infra tests assert.",
        )

    def allow(self, *statements: iam.PolicyStatement) -> None:
        for statement in statements:
            self.role.add_to_principal_policy(statement)

    def consume(
        self, queue: sqs.IQueue, *, batch_size: int, max_concurrency: int
    ) -> event_sources.SqsEventSource:
        """An SQS event source mapping on ``queue`` with partial batch responses, invoking the live alias
        (the deployment's published version; with SnapStart, its snapshot). Grants receive, delete and
        change-visibility on the queue, scoped to its ARN."""
        source = event_sources.SqsEventSource(
            queue, batch_size=batch_size, report_batch_item_failures=True, max_concurrency=max_concurrency
        )
        self.alias.add_event_source(source)
        return source


def jobs_environment(jobs_table: DataTable, results: ResultsBucket, queue: JobQueue) -> dict[str, str]:
    """Where a function finds the jobs: the jobs table, the results bucket and the jobs queue."""
    return {
        "JOBS_TABLE_NAME": jobs_table.table.table_name,
        "RESULTS_BUCKET_NAME": results.bucket.bucket_name,
        "JOBS_QUEUE_URL": queue.queue.queue_url,
    }


def trusted_senders_environment(trusted_senders: Sequence[str]) -> dict[str, str]:
    """The SQS senders (IAM unique ids) allowed to name a job's caller: the jobs API's role. The worker
    and the DLQ consumer read a message's caller alike, so both find its job under the same key."""
    return {"TRUSTED_JOB_SENDERS": Fn.join(",", list(trusted_senders)) if trusted_senders else ""}
