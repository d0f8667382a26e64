"""One CloudWatch dashboard: API, functions, queues, Bedrock usage from the handlers' metrics, alarms."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from bedrock_gateway import observability
from constructs import Construct

from infra.components.alarms import MonitoredFunction
from infra.components.gateway_function import METRICS_NAMESPACE

# The dimensions every door emits its metrics with (bedrock_gateway.observability).
TARGET = observability.TARGET_DIMENSION
TENANT = observability.TENANT_DIMENSION
ERROR_CODE = observability.ERROR_CODE_DIMENSION
ERRORS = observability.ERRORS_METRIC

PERIOD = Duration.minutes(1)


class GatewayDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: apigw.RestApi,
        functions: list[MonitoredFunction],
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        alarms: list[cloudwatch.IAlarm],
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                width=12,
                left=[api.metric_count(period=PERIOD, statistic="Sum")],
                right=[
                    api.metric_client_error(period=PERIOD, statistic="Sum"),
                    api.metric_server_error(period=PERIOD, statistic="Sum"),
                ],
            ),
            cloudwatch.GraphWidget(
                title="API latency (ms)",
                width=12,
                left=[api.metric_latency(period=PERIOD, statistic=s) for s in ("p50", "p90", "p99")],
                right=[api.metric_integration_latency(period=PERIOD, statistic="p99")],
            ),
        )
        self.dashboard.add_widgets(
            *[
                cloudwatch.GraphWidget(
                    title=f"{f.label}",
                    width=8,
                    left=[
                        f.function.metric_invocations(period=PERIOD, statistic="Sum"),
                        f.function.metric_errors(period=PERIOD, statistic="Sum"),
                        f.function.metric_throttles(period=PERIOD, statistic="Sum"),
                    ],
                    right=[f.function.metric_duration(period=PERIOD, statistic="p99")],
                )
                for f in functions
            ]
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Jobs queue",
                width=12,
                left=[
                    queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                    queue.metric_approximate_number_of_messages_not_visible(
                        period=PERIOD, statistic="Maximum"
                    ),
                    dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum", label="DLQ visible"
                    ),
                ],
                right=[queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum")],
            ),
            cloudwatch.GraphWidget(
                title="Job outcomes (worker)",
                width=12,
                left=[
                    _search(f'{{{METRICS_NAMESPACE},service}} MetricName="{name}"', name)
                    for name in (
                        "JobsSucceeded",
                        "JobsFailed",
                        "JobsRetried",
                        "JobsDeadLettered",
                        "JobsMalformed",
                        "JobsConflicting",
                    )
                ],
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Tokens by target",
                width=12,
                left=[
                    _search(f'{{{METRICS_NAMESPACE},{TARGET},service}} MetricName="InputTokens"', "in"),
                    _search(f'{{{METRICS_NAMESPACE},{TARGET},service}} MetricName="OutputTokens"', "out"),
                ],
            ),
            cloudwatch.GraphWidget(
                title="Tokens by tenant and target",
                width=12,
                left=[
                    _search(
                        f'{{{METRICS_NAMESPACE},{TENANT},{TARGET},service}} MetricName="InputTokens"', "in"
                    ),
                    _search(
                        f'{{{METRICS_NAMESPACE},{TENANT},{TARGET},service}} MetricName="OutputTokens"', "out"
                    ),
                ],
            ),
            cloudwatch.GraphWidget(
                title="Errors by code",
                width=12,
                left=[
                    _search(f'{{{METRICS_NAMESPACE},{ERROR_CODE},service}} MetricName="{ERRORS}"', "errors")
                ],
            ),
        )
        self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms, width=24))


def _search(query: str, label: str) -> cloudwatch.MathExpression:
    # SEARCH picks up every Target/ErrorCode dimension value the handlers emit, with no list to maintain.
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{query}', 'Sum', 60)", label=label, period=PERIOD, using_metrics={}
    )
