"""CloudWatch alarms (DLQ depth, error rates, throttles, p99 latency) and the encrypted topic they notify."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from bedrock_gateway import observability
from constructs import Construct

from infra.components.gateway_function import METRICS_NAMESPACE, SERVICE_NAME

FIVE_MINUTES = Duration.minutes(5)
ERROR_RATE_PERCENT = 5
#: p99 of the sync invoke route; API Gateway cuts the integration off at 29 s.
SYNC_P99_LATENCY_MS = 20_000
#: Bedrock throttling seen by the sync API in five minutes before anyone is told (retries absorb a few).
BEDROCK_THROTTLES = 10
#: A job waiting this long means the worker (or its Bedrock quota) cannot keep up.
OLDEST_JOB_AGE_SECONDS = 30 * 60


@dataclass(frozen=True)
class MonitoredFunction:
    label: str
    function: lambda_.IFunction
    timeout: Duration


class GatewayAlarms(Construct):
    """Every alarm notifies ``topic`` (KMS-encrypted, TLS-only) on ALARM and OK."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: apigw.RestApi,
        sync_resource_path: str,
        functions: list[MonitoredFunction],
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        alarm_email: str | None,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(
            self,
            "TopicKey",
            enable_key_rotation=True,
            removal_policy=removal_policy,
            description="Encrypts the Bedrock gateway alarm topic",
        )
        # CloudWatch publishes to an encrypted topic only if the key lets it.
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(
            self, "Topic", master_key=key, enforce_ssl=True, display_name="Bedrock gateway alarms"
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []

        self._alarm(
            "DeadLetterQueueNotEmpty",
            "Jobs reached the DLQ: they failed every delivery (inspect, then redrive)",
            # Visible and in flight: the DLQ consumer holds the messages it has handled (invisible).
            cloudwatch.MathExpression(
                expression="visible + inFlight",
                using_metrics={
                    "visible": dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=Duration.minutes(1), statistic="Maximum"
                    ),
                    "inFlight": dead_letter_queue.metric_approximate_number_of_messages_not_visible(
                        period=Duration.minutes(1), statistic="Maximum"
                    ),
                },
                label="DLQ messages",
                period=Duration.minutes(1),
            ),
            threshold=1,
            periods=1,
        )
        self._alarm(
            "JobsWaiting",
            "The oldest queued job has waited 30 minutes: the worker or its Bedrock quota is behind",
            queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
            threshold=OLDEST_JOB_AGE_SECONDS,
            periods=2,
        )
        self._alarm(
            "Api5xxRate",
            f"More than {ERROR_RATE_PERCENT}% of API requests answered 5xx",
            cloudwatch.MathExpression(
                expression="100 * errors",
                using_metrics={"errors": api.metric_server_error(period=FIVE_MINUTES, statistic="Average")},
                label="5xx %",
                period=FIVE_MINUTES,
            ),
            threshold=ERROR_RATE_PERCENT,
            periods=2,
        )
        self._alarm(
            "SyncInvokeLatencyP99",
            "p99 latency of POST /v1/targets/{target}/invoke is above 20 s (limit 29 s)",
            cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name="Latency",
                statistic="p99",
                period=FIVE_MINUTES,
                dimensions_map={
                    "ApiName": api.rest_api_name,
                    "Stage": api.deployment_stage.stage_name,
                    "Resource": sync_resource_path,
                    "Method": "POST",
                },
            ),
            threshold=SYNC_P99_LATENCY_MS,
            periods=3,
        )
        self._alarm(
            "BedrockThrottling",
            "Bedrock throttled the sync API repeatedly: raise the quota or slow callers",
            cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=observability.ERRORS_METRIC,
                statistic="Sum",
                period=FIVE_MINUTES,
                dimensions_map={
                    observability.ERROR_CODE_DIMENSION: "ThrottlingException",
                    "service": SERVICE_NAME,
                },
            ),
            threshold=BEDROCK_THROTTLES,
            periods=1,
        )
        for monitored in functions:
            self._function_alarms(monitored)

    def _function_alarms(self, monitored: MonitoredFunction) -> None:
        function, label = monitored.function, monitored.label
        self._alarm(
            f"{label}ErrorRate",
            f"More than {ERROR_RATE_PERCENT}% of {label} invocations failed",
            cloudwatch.MathExpression(
                expression="IF(invocations > 0, 100 * errors / invocations, 0)",
                using_metrics={
                    "errors": function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                    "invocations": function.metric_invocations(period=FIVE_MINUTES, statistic="Sum"),
                },
                label=f"{label} error %",
                period=FIVE_MINUTES,
            ),
            threshold=ERROR_RATE_PERCENT,
            periods=2,
        )
        self._alarm(
            f"{label}Throttles",
            f"Lambda throttled {label} (account or function concurrency exhausted)",
            function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            periods=1,
        )
        self._alarm(
            f"{label}DurationP99",
            f"p99 duration of {label} is above 80% of its timeout",
            function.metric_duration(period=FIVE_MINUTES, statistic="p99"),
            threshold=monitored.timeout.to_milliseconds() * 0.8,
            periods=3,
        )

    def _alarm(
        self, name: str, description: str, metric: cloudwatch.IMetric, *, threshold: float, periods: int
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            name,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm
