"""The stack: API Gateway + SQS in front of Bedrock, with its data, encryption, alarms and dashboard."""

from __future__ import annotations

from aws_cdk import Annotations, AspectPriority, Aspects, CfnOutput, Stack
from bedrock_gateway.core import catalog
from bedrock_gateway.core.jobs.contract import JOB_SCHEMA
from bedrock_gateway.edge import routes
from constructs import Construct

from infra.bedrock_access import BedrockResources
from infra.components import dead_letter_consumer, job_worker, key_auth, stream_function, sync_api_function
from infra.components.alarms import GatewayAlarms, MonitoredFunction
from infra.components.dashboard import GatewayDashboard
from infra.components.data_table import DataTable
from infra.components.dead_letter_consumer import DeadLetterConsumer
from infra.components.encryption_key import EncryptLogGroups, GatewayEncryptionKey
from infra.components.gateway_api import GatewayApi
from infra.components.gateway_function import FunctionBasics
from infra.components.job_queue import JobQueue
from infra.components.job_worker import JobWorker
from infra.components.key_auth import KeyAuthorizer
from infra.components.results_bucket import ResultsBucket
from infra.components.stream_function import StreamFunction
from infra.components.sync_api_function import SyncApiFunction
from infra.lambda_asset import TARGETS_FILE_NAME, lambda_code
from infra.settings import GatewaySettings

#: Where the asset's targets file lands in the function (the asset root is /var/task).
DEPLOYED_TARGETS_FILE = f"/var/task/{TARGETS_FILE_NAME}"
SYNC_INVOKE_PATH = next(r.path for r in routes.ROUTES if r.name == "invoke")


class BedrockGatewayStack(Stack):
    """Environment-agnostic: region, account and partition stay CloudFormation pseudo parameters, so
    synth needs no credentials and no look-ups."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: GatewaySettings, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        retention, removal = settings.log_retention, settings.removal_policy
        code = lambda_code(settings.targets_file, include_dependencies=not settings.skip_asset_deps)
        basics = FunctionBasics(
            code, DEPLOYED_TARGETS_FILE, retention, removal, snap_start=settings.snap_start
        )
        bedrock = BedrockResources.for_config(settings.targets)
        if settings.targets.allow_raw_model_ids:
            Annotations.of(self).add_warning_v2(
                "bedrock-gateway:rawModelIds",
                "allow_raw_model_ids is true, but IAM only allows the configured targets' models: a raw "
                "model ID outside them is refused by Bedrock with AccessDeniedException (502).",
            )
        for warning_id, message in _model_lifecycle_warnings(settings):
            Annotations.of(self).add_warning_v2(warning_id, message)
        if settings.alarm_email is None:
            Annotations.of(self).add_warning_v2(
                "bedrock-gateway:noAlarmSubscriber",
                "alarmEmail is not set: the alarms publish to their SNS topic but notify nobody. Deploy with "
                "-c alarmEmail=<address>, or subscribe the AlarmTopicArn output to your paging system.",
            )
        self.encryption = GatewayEncryptionKey(
            self, "Encryption", kms_key=settings.kms_key, removal_policy=removal
        )
        if self.encryption.key is not None:
            Aspects.of(self).add(EncryptLogGroups(self.encryption.key), priority=AspectPriority.MUTATING)

        self.jobs_table = DataTable(
            self,
            "JobsTable",
            partition_key="jobId",
            ttl_attribute="expiresAt",
            removal_policy=removal,
            deletion_protection=settings.is_production,
        )
        self.results = ResultsBucket(
            self, "Results", removal_policy=removal, empty_on_delete=not settings.is_production
        )
        self.jobs = JobQueue(
            self,
            "Jobs",
            consumer_timeout=job_worker.TIMEOUT,
            max_receive_count=settings.max_receive_count,
            encryption_key=self.encryption.key,
        )

        self.sync_api = SyncApiFunction(
            self,
            "SyncApi",
            basics=basics,
            bedrock=bedrock,
            jobs_table=self.jobs_table,
            queue=self.jobs,
            results=self.results,
        )
        self.stream = StreamFunction(
            self,
            "Stream",
            basics=basics,
            bedrock=bedrock,
        )
        self.worker = JobWorker(
            self,
            "Worker",
            basics=basics,
            bedrock=bedrock,
            queue=self.jobs,
            jobs_table=self.jobs_table,
            results=self.results,
            max_concurrency=settings.worker_max_concurrency,
            # The jobs API's messages name their caller; only its role may (a producer is its own caller).
            trusted_senders=[self.sync_api.gateway_function.role.role_id],
        )
        # Every mode: the Bedrock-compatible routes take gateway keys whatever the API's auth mode.
        self.key_auth = KeyAuthorizer(
            self,
            "Keys",
            basics=basics,
            removal_policy=removal,
            deletion_protection=settings.is_production,
        )
        self.dead_letters = DeadLetterConsumer(
            self,
            "DeadLetters",
            basics=basics,
            queue=self.jobs,
            jobs_table=self.jobs_table,
            # It reads a message's caller as the worker does, to find the job under the same key.
            trusted_senders=[self.sync_api.gateway_function.role.role_id],
        )
        self.api = GatewayApi(
            self,
            "Api",
            stage_name=settings.stage,
            auth=settings.auth,
            authorizer=self.key_auth.authorizer,
            # The live aliases: the deployment's published versions (SnapStart applies to nothing else).
            sync_function=self.sync_api.alias,
            stream_function=self.stream.alias,
            job_request_schema=JOB_SCHEMA,
            rate_limit=settings.api_rate_limit,
            burst_limit=settings.api_burst_limit,
            log_retention=retention,
            removal_policy=removal,
        )
        self.key_usage_plan = None
        if settings.auth != "apiKey":
            # With auth=apiKey the API reads usage-plan keys from x-api-key, so a gateway key's plan key
            # would not limit it, and would only be one more valid x-api-key for the /v1 routes.
            self.key_usage_plan = self.key_auth.add_usage_plan(
                self.api.api,
                rate_limit=settings.key_rate_limit,
                burst_limit=settings.key_burst_limit,
                quota_per_day=settings.key_quota_per_day,
            )

        # The stage URL without its trailing slash: botocore appends /model/{modelId}/... to it.
        api, stage = self.api.api, self.api.api.deployment_stage.stage_name
        self.bedrock_runtime_endpoint = (
            f"https://{api.rest_api_id}.execute-api.{self.region}.{self.url_suffix}/{stage}"
        )

        monitored = [
            MonitoredFunction("SyncApi", self.sync_api.function, sync_api_function.TIMEOUT),
            MonitoredFunction("Stream", self.stream.function, stream_function.TIMEOUT),
            MonitoredFunction("Worker", self.worker.function, job_worker.TIMEOUT),
            MonitoredFunction("Authorizer", self.key_auth.function, key_auth.TIMEOUT),
            # Its own alarms: it failing means dead-lettered jobs stay "running" for their callers.
            MonitoredFunction("DeadLetters", self.dead_letters.function, dead_letter_consumer.TIMEOUT),
        ]
        self.alarms = GatewayAlarms(
            self,
            "Alarms",
            api=self.api.api,
            sync_resource_path=SYNC_INVOKE_PATH,
            functions=monitored,
            queue=self.jobs.queue,
            dead_letter_queue=self.jobs.dead_letter_queue,
            alarm_email=settings.alarm_email,
            removal_policy=removal,
        )
        self.dashboard = GatewayDashboard(
            self,
            "Dashboard",
            api=self.api.api,
            functions=monitored,
            queue=self.jobs.queue,
            dead_letter_queue=self.jobs.dead_letter_queue,
            alarms=self.alarms.alarms,
        )

        CfnOutput(
            self,
            "JobsQueueUrl",
            value=self.jobs.queue.queue_url,
            description="Producers may send job messages here directly (docs/api.md, SQS jobs)",
        )
        CfnOutput(self, "DeadLetterQueueUrl", value=self.jobs.dead_letter_queue.queue_url)
        CfnOutput(self, "JobsTableName", value=self.jobs_table.table.table_name)
        CfnOutput(
            self,
            "BedrockRuntimeEndpoint",
            value=self.bedrock_runtime_endpoint,
            description="AWS SDKs through the gateway: set AWS_ENDPOINT_URL_BEDROCK_RUNTIME to this and "
            "AWS_BEARER_TOKEN_BEDROCK to a gateway key (make keys ARGS='create --stack <stack> --tenant <team>')",
        )
        CfnOutput(
            self,
            "KeysTableName",
            value=self.key_auth.keys_table.table.table_name,
            description="Gateway keys (hashes only): make keys ARGS='create --stack <this stack> --tenant ...'",
        )
        if self.key_usage_plan is not None:
            CfnOutput(self, "UsagePlanId", value=self.key_usage_plan.usage_plan_id)
        CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn)
        CfnOutput(self, "DashboardName", value=self.dashboard.dashboard.dashboard_name)
        if self.encryption.key is not None:
            CfnOutput(self, "EncryptionKeyArn", value=self.encryption.key.key_arn)
        if settings.auth == "apiKey":
            CfnOutput(
                self,
                "ApiKeyId",
                value=self.api.api_key.key_id,
                description="aws apigateway get-api-key --include-value --api-key <id>",
            )


def _model_lifecycle_warnings(settings: GatewaySettings) -> list[tuple[str, str]]:
    """Targets whose model the catalog of record lists as past its end of life, or Legacy (offline:
    ``make targets ARGS='check'`` asks the account itself)."""
    warnings = []
    for target in settings.targets.targets.values():
        model_id = target.ref.foundation_model_id
        life = catalog.lifecycle(model_id) if model_id else None
        if life is None or life["status"] == catalog.ACTIVE:
            continue
        if ended := catalog.retirement(life):
            warnings.append(
                (
                    "bedrock-gateway:modelEndOfLife",
                    f"target {target.name}: model {model_id} {ended}, so every call to it fails; point the "
                    "target at a current model (make targets ARGS='models') and keep the old ID working for "
                    "callers as an alias",
                )
            )
        else:
            end = f", end of life on {life['endOfLife']}" if "endOfLife" in life else ""
            warnings.append(
                (
                    "bedrock-gateway:modelLegacy",
                    f"target {target.name}: model {model_id} is Legacy in Bedrock{end}; plan its move to a "
                    "current model",
                )
            )
    return warnings
