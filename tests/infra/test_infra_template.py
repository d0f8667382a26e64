"""The synthesized template: routes and integration modes, the event source, queues, encryption,
Lambda settings, stage settings, alarms and the dashboard."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk.assertions import Match
from bedrock_gateway.core.jobs.contract import JOB_SCHEMA
from bedrock_gateway.edge import openapi
from infra_helpers import AUTH_CONTEXTS, resolve

from infra import lambda_platform
from infra.components import dead_letter_consumer, job_queue, job_worker

ROUTES = {
    ("GET", "/v1/health"): "SyncApi",
    ("GET", "/v1/openapi.json"): "SyncApi",
    ("GET", "/v1/targets"): "SyncApi",
    ("POST", "/v1/targets/{target}/invoke"): "SyncApi",
    ("POST", "/v1/targets/{target}/stream"): "Stream",
    ("POST", "/v1/jobs"): "SyncApi",
    ("GET", "/v1/jobs/{jobId}"): "SyncApi",
    ("GET", "/v1/jobs/{jobId}/result"): "SyncApi",
    ("POST", "/v1/targets/{target}/converse"): "SyncApi",
    ("POST", "/v1/targets/{target}/converse-stream"): "Stream",
    ("POST", "/model/{modelId}/invoke"): "SyncApi",
    ("POST", "/model/{modelId}/invoke-with-response-stream"): "Stream",
    ("POST", "/model/{modelId}/converse"): "SyncApi",
    ("POST", "/model/{modelId}/converse-stream"): "Stream",
    ("POST", "/model/{modelId}/count-tokens"): "SyncApi",
}
# A route whose parameter may be an ARN is also served with the parameter over two segments.
ROUTES.update(
    {
        (method, re.sub(r"\{(target|modelId)\}", r"{\1}/{\1Tail}", path)): function
        for (method, path), function in ROUTES.items()
        if "{target}" in path or "{modelId}" in path
    }
)
STREAMED = {route for route, function in ROUTES.items() if function == "Stream"}


def routes(synth) -> dict[tuple[str, str], dict]:
    """(method, path) -> the Method's properties."""
    resources = synth.resources("AWS::ApiGateway::Resource")

    def path_of(ref) -> str:
        if "Ref" not in ref:  # the root resource: Fn::GetAtt RootResourceId
            return ""
        props = resources[ref["Ref"]]["Properties"]
        return f"{path_of(props['ParentId'])}/{props['PathPart']}"

    return {
        (m["Properties"]["HttpMethod"], path_of(m["Properties"]["ResourceId"])): m["Properties"]
        for m in synth.resources("AWS::ApiGateway::Method").values()
    }


def function_of(synth, method: dict) -> str:
    uri = json.dumps(method["Integration"]["Uri"])
    return next(name for name in ("SyncApi", "Stream", "Worker") if f'"{name}Handler' in uri)


def test_routes_go_to_the_right_function_as_proxy_integrations(default_synth):
    found = routes(default_synth)
    assert set(found) == set(ROUTES)
    for route, function in ROUTES.items():
        assert function_of(default_synth, found[route]) == function, route
        assert found[route]["Integration"]["Type"] == "AWS_PROXY"


def test_the_openapi_document_lists_exactly_the_routes_the_stack_serves(default_synth):
    described = {(method.upper(), path) for path, item in openapi.build()["paths"].items() for method in item}
    # The split twin of a route with an ARN parameter is the same operation: documented on its parameter.
    served = {(method, re.sub(r"/\{(\w+)Tail\}", "", path)) for method, path in routes(default_synth)}
    assert described == served
    arn_parameters = [
        parameter
        for item in openapi.build()["paths"].values()
        for operation in item.values()
        for parameter in operation.get("parameters", ())
        if parameter["name"] in ("target", "modelId")
    ]
    assert arn_parameters and all("'/'" in p["description"] for p in arn_parameters)


@pytest.mark.parametrize("route", sorted(STREAMED))
def test_stream_routes_use_response_streaming(default_synth, route):
    stream = routes(default_synth)[route]["Integration"]
    assert stream["ResponseTransferMode"] == "STREAM"
    assert stream["Uri"]["Fn::Join"][1][-1] == "/response-streaming-invocations"
    assert "/2021-11-15/functions/" in json.dumps(stream["Uri"])
    assert stream["TimeoutInMillis"] == 15 * 60 * 1000


def test_other_routes_are_buffered(default_synth):
    for route, method in routes(default_synth).items():
        if route in STREAMED:
            continue
        assert method["Integration"].get("ResponseTransferMode", "BUFFERED") == "BUFFERED", route
        assert json.dumps(method["Integration"]["Uri"]).endswith('"/invocations"]]}'), route


def gateway_routes(synth) -> dict[tuple[str, str], dict]:
    """The /v1 routes: the auth mode's (the /model routes take gateway keys in every mode,
    test_infra_dropin.py)."""
    return {route: method for route, method in routes(synth).items() if route[1].startswith("/v1/")}


def test_default_auth_is_iam_on_every_gateway_route(default_synth):
    assert gateway_routes(default_synth)
    for route, method in gateway_routes(default_synth).items():
        assert method["AuthorizationType"] == "AWS_IAM", route
        assert not method.get("ApiKeyRequired"), route


def test_api_key_auth_requires_a_key_and_a_usage_plan(synthesize):
    synth = synthesize(**AUTH_CONTEXTS["apiKey"])
    for route, method in gateway_routes(synth).items():
        assert method["ApiKeyRequired"] is True, route
        assert method["AuthorizationType"] == "NONE", route
    synth.template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    synth.template.resource_count_is("AWS::ApiGateway::UsagePlan", 1)  # no per-gateway-key plan here
    synth.template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {
            "Throttle": {"RateLimit": 50, "BurstLimit": 100},
            "ApiStages": [Match.object_like({"Stage": Match.any_value()})],
        },
    )
    synth.template.has_resource_properties("AWS::ApiGateway::RestApi", {"ApiKeySourceType": "HEADER"})


def test_no_auth_is_an_explicit_choice(synthesize):
    synth = synthesize(**AUTH_CONTEXTS["none"])
    for route, method in gateway_routes(synth).items():
        assert method["AuthorizationType"] == "NONE", route
        assert not method.get("ApiKeyRequired"), route
    synth.template.resource_count_is("AWS::ApiGateway::ApiKey", 0)


def test_api_is_regional_with_logged_throttled_traced_stage(default_synth):
    default_synth.template.has_resource_properties(
        "AWS::ApiGateway::RestApi",
        {
            "EndpointConfiguration": {"Types": ["REGIONAL"]},
        },
    )
    stage = default_synth.one("AWS::ApiGateway::Stage")["Properties"]
    assert stage["StageName"] == "dev"
    assert stage["TracingEnabled"] is True
    log_format = json.loads(stage["AccessLogSetting"]["Format"])
    assert {"requestId", "status", "ip", "resourcePath", "integrationLatencyMs"} <= set(log_format)
    access_log_group = stage["AccessLogSetting"]["DestinationArn"]["Fn::Join"][1][-1]["Ref"]
    assert default_synth.data["Resources"][access_log_group]["Properties"]["RetentionInDays"] == 30
    execution_logs = default_synth.data["Resources"][
        default_synth.logical_id(default_synth.stack.api.execution_logs)
    ]
    assert execution_logs["Properties"]["RetentionInDays"] == 30
    assert resolve(execution_logs["Properties"]["LogGroupName"]) == {
        "Fn::Join": [
            "",
            [
                "API-Gateway-Execution-Logs_",
                {"Ref": default_synth.logical_id(default_synth.stack.api.api)},
                "/dev",
            ],
        ]
    }
    (settings,) = stage["MethodSettings"]
    assert settings == {
        "HttpMethod": "*",
        "ResourcePath": "/*",
        "LoggingLevel": "ERROR",
        "DataTraceEnabled": False,
        "MetricsEnabled": True,
        "ThrottlingRateLimit": 50,
        "ThrottlingBurstLimit": 100,
    }


def test_gateway_errors_use_the_spec_error_body(default_synth):
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in default_synth.resources("AWS::ApiGateway::GatewayResponse").values()
    }
    assert {"DEFAULT_4XX", "DEFAULT_5XX", "REQUEST_TOO_LARGE", "THROTTLED", "BAD_REQUEST_BODY"} <= set(
        responses
    )
    for response in responses.values():
        template = response["ResponseTemplates"]["application/json"]
        assert template.startswith('{"error":{"code":"') and '"requestId":"$context.requestId"' in template
    assert (
        '"code":"PayloadTooLarge"' in responses["REQUEST_TOO_LARGE"]["ResponseTemplates"]["application/json"]
    )
    assert responses["THROTTLED"]["ResponseParameters"]["gatewayresponse.header.Retry-After"] == "'1'"


def test_job_requests_are_validated_against_the_handlers_schema(default_synth):
    model = default_synth.one("AWS::ApiGateway::Model")["Properties"]
    assert model["ContentType"] == "application/json"
    assert model["Schema"]["required"] == JOB_SCHEMA["required"]
    assert model["Schema"]["additionalProperties"] is False
    assert set(model["Schema"]["properties"]) == set(JOB_SCHEMA["properties"])
    post_jobs = routes(default_synth)[("POST", "/v1/jobs")]
    assert post_jobs["RequestModels"] == {
        "application/json": {"Ref": default_synth.logical_id(default_synth.stack.api.job_request)}
    }
    assert "RequestValidatorId" in post_jobs
    invoke = routes(default_synth)[("POST", "/v1/targets/{target}/invoke")]
    assert invoke["RequestParameters"] == {"method.request.path.target": True}


def test_worker_event_source_reports_partial_failures_with_bounded_concurrency(default_synth):
    default_synth.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 5},
            "EventSourceArn": {
                "Fn::GetAtt": [default_synth.logical_id(default_synth.stack.jobs.queue), "Arn"]
            },
        },
    )  # FunctionName: the worker's live alias (test_infra_snapstart.py)


def test_context_sets_worker_concurrency_and_redrive(synthesize):
    synth = synthesize(**AUTH_CONTEXTS["apiKey"])
    synth.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"ScalingConfig": {"MaximumConcurrency": 7}}
    )
    synth.template.has_resource_properties(
        "AWS::SQS::Queue", {"RedrivePolicy": {"maxReceiveCount": 3, "deadLetterTargetArn": Match.any_value()}}
    )
    worker = synth.data["Resources"][synth.logical_id(synth.stack.worker.function)]
    assert worker["Properties"]["Environment"]["Variables"]["MAX_RECEIVE_COUNT"] == "3"
    assert synth.stack.stack_name == "BedrockGateway-qa"


def test_jobs_queue_redrives_to_the_dlq(default_synth):
    stack = default_synth.stack
    queue = default_synth.data["Resources"][default_synth.logical_id(stack.jobs.queue)]["Properties"]
    dlq_id = default_synth.logical_id(stack.jobs.dead_letter_queue)
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 5,
    }
    assert queue["VisibilityTimeout"] >= 6 * job_worker.TIMEOUT.to_seconds()
    dlq = default_synth.data["Resources"][dlq_id]["Properties"]
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert dlq["VisibilityTimeout"] == job_queue.DEAD_LETTER_HOLD.to_seconds()
    worker = default_synth.data["Resources"][default_synth.logical_id(stack.worker.function)]["Properties"]
    assert worker["Environment"]["Variables"]["MAX_RECEIVE_COUNT"] == "5"


def test_a_dead_delivery_s_lease_always_expires_before_the_job_can_be_delivered_again(default_synth):
    """The worker leases a job until its deadline plus LEASE_MARGIN_MS; SQS delivers it again only
    after the queue's visibility timeout. The first must end before the second can begin."""
    from bedrock_gateway.core.jobs.store import LEASE_MARGIN_MS

    stack = default_synth.stack
    queue = default_synth.data["Resources"][default_synth.logical_id(stack.jobs.queue)]["Properties"]
    worker = default_synth.data["Resources"][default_synth.logical_id(stack.worker.function)]["Properties"]
    assert queue["VisibilityTimeout"] >= worker["Timeout"] + LEASE_MARGIN_MS / 1000


def test_the_dlq_consumer_keeps_what_it_marks(default_synth):
    """An event source on the DLQ with partial batch responses (a kept message is an item failure),
    and a DLQ visibility timeout AWS accepts for it (at least the consumer's timeout; 6x advised)."""
    stack, data = default_synth.stack, default_synth.data
    consumer = default_synth.logical_id(stack.dead_letters.function)
    dlq_id = default_synth.logical_id(stack.jobs.dead_letter_queue)
    [mapping] = [
        m["Properties"]
        for m in default_synth.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    ]  # FunctionName: the consumer's live alias (test_infra_snapstart.py)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    props = data["Resources"][consumer]["Properties"]
    assert props["Handler"] == dead_letter_consumer.HANDLER
    assert data["Resources"][dlq_id]["Properties"]["VisibilityTimeout"] >= 6 * props["Timeout"]
    assert props["Environment"]["Variables"]["JOBS_TABLE_NAME"] == {
        "Ref": default_synth.logical_id(stack.jobs_table.table)
    }
    assert props["Environment"]["Variables"]["JOBS_DLQ_URL"] == {"Ref": dlq_id}


def test_encryption_everywhere(default_synth):
    synth = default_synth
    for name, queue in synth.resources("AWS::SQS::Queue").items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, name
    for name, table in synth.resources("AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True, name
    for name, bucket in synth.resources("AWS::S3::Bucket").items():
        (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms"), name
    for name, topic in synth.resources("AWS::SNS::Topic").items():
        assert "KmsMasterKeyId" in topic["Properties"], name
    for name, key in synth.resources("AWS::KMS::Key").items():
        assert key["Properties"]["EnableKeyRotation"] is True, name


def _denies_insecure_transport(policy_document: dict) -> bool:
    return any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy_document["Statement"]
    )


def test_queues_buckets_and_topic_are_tls_only(default_synth):
    synth = default_synth
    for kind, count in (
        ("AWS::SQS::QueuePolicy", 2),
        ("AWS::S3::BucketPolicy", 2),
        ("AWS::SNS::TopicPolicy", 1),
    ):
        policies = synth.resources(kind)
        assert len(policies) == count, kind
        for name, policy in policies.items():
            assert _denies_insecure_transport(policy["Properties"]["PolicyDocument"]), name


def test_tables_have_point_in_time_recovery_and_ttl(default_synth):
    tables = {
        t["Properties"]["KeySchema"][0]["AttributeName"]: t["Properties"]
        for t in default_synth.resources("AWS::DynamoDB::Table").values()
    }
    # jobs (the job record is also the job's lock) and gateway keys (every mode)
    assert set(tables) == {"jobId", "keyHash"}
    assert tables["jobId"]["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert tables["keyHash"]["TimeToLiveSpecification"] == {"AttributeName": "purgeAt", "Enabled": True}
    for table in tables.values():
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert table["BillingMode"] == "PAY_PER_REQUEST"


def test_results_bucket_is_private_logged_and_expires_results(default_synth):
    stack = default_synth.stack
    bucket = default_synth.data["Resources"][default_synth.logical_id(stack.results.bucket)]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {
        "Ref": default_synth.logical_id(stack.results.access_logs)
    }
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireObjects"]["ExpirationInDays"] == 30 and rules["ExpireObjects"]["Status"] == "Enabled"


def test_production_retains_data(synthesize, default_synth):
    prod = synthesize(stage="production")
    for kind in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup"):
        for name, resource in prod.resources(kind).items():
            assert resource["DeletionPolicy"] == "Retain", name
        for name, resource in default_synth.resources(kind).items():
            assert resource["DeletionPolicy"] == "Delete", name
    for table in prod.resources("AWS::DynamoDB::Table").values():
        assert table["Properties"]["DeletionProtectionEnabled"] is True


@pytest.mark.parametrize(
    "name, handler, timeout, memory",
    [
        ("SyncApi", "bedrock_gateway.handlers.api.handler", 29, 1024),
        ("Stream", "run.sh", 900, 1024),
        ("Worker", "bedrock_gateway.handlers.worker.handler", 360, 1024),
    ],
)
def test_lambda_settings(default_synth, name, handler, timeout, memory):
    function = getattr(
        default_synth.stack, {"SyncApi": "sync_api", "Stream": "stream", "Worker": "worker"}[name]
    )
    props = default_synth.data["Resources"][default_synth.logical_id(function.function)]["Properties"]
    assert props["Handler"] == handler
    assert props["Runtime"] == lambda_platform.RUNTIME.name == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["Timeout"] == timeout
    assert props["MemorySize"] == memory
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    log_group = default_synth.data["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]
    assert log_group["Properties"]["RetentionInDays"] == 30
    env = props["Environment"]["Variables"]
    assert env["TARGETS_FILE"] == "/var/task/targets.toml"
    assert env["POWERTOOLS_SERVICE_NAME"] == "bedrock-gateway"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "BedrockGateway"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"


def test_function_environments(default_synth):
    stack, data = default_synth.stack, default_synth.data

    def env(function):
        return data["Resources"][default_synth.logical_id(function)]["Properties"]["Environment"]["Variables"]

    jobs_table = {"Ref": default_synth.logical_id(stack.jobs_table.table)}
    bucket = {"Ref": default_synth.logical_id(stack.results.bucket)}
    queue_url = {"Ref": default_synth.logical_id(stack.jobs.queue)}
    sync = env(stack.sync_api.function)
    assert (sync["JOBS_TABLE_NAME"], sync["RESULTS_BUCKET_NAME"], sync["JOBS_QUEUE_URL"]) == (
        jobs_table,
        bucket,
        queue_url,
    )
    worker = env(stack.worker.function)
    assert (worker["JOBS_TABLE_NAME"], worker["RESULTS_BUCKET_NAME"], worker["JOBS_QUEUE_URL"]) == (
        jobs_table,
        bucket,
        queue_url,
    )
    assert "IDEMPOTENCY_TABLE_NAME" not in worker  # the job record is the lock: no second table
    stream = env(stack.stream.function)
    assert {k: v for k, v in stream.items() if k.startswith("AWS_")} == {
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
        "AWS_LWA_INVOKE_MODE": "response_stream",
        "AWS_LWA_PORT": "8000",
        "AWS_LWA_READINESS_CHECK_PATH": "/_ready",
    }


def test_stream_function_runs_the_pinned_web_adapter_layer(default_synth):
    props = default_synth.data["Resources"][default_synth.logical_id(default_synth.stack.stream.function)][
        "Properties"
    ]
    (layer,) = resolve(props["Layers"])
    version = lambda_platform.WEB_ADAPTER_LAYER_VERSION
    assert layer == f"arn:aws:lambda:eu-west-1:753240598075:layer:LambdaAdapterLayerArm64:{version}"
    for name in ("SyncApi", "Worker"):
        function = getattr(default_synth.stack, {"SyncApi": "sync_api", "Worker": "worker"}[name]).function
        assert (
            "Layers" not in default_synth.data["Resources"][default_synth.logical_id(function)]["Properties"]
        )


def test_alarms_cover_dlq_errors_throttles_and_latency(default_synth):
    alarms = default_synth.resources("AWS::CloudWatch::Alarm")
    topic = {"Ref": default_synth.logical_id(default_synth.stack.alarms.topic)}

    def metric_names(alarm) -> set[str]:
        props = alarm["Properties"]
        if "MetricName" in props:
            return {props["MetricName"]}
        return {
            m["MetricStat"]["Metric"]["MetricName"] for m in props.get("Metrics", []) if "MetricStat" in m
        }

    names = [metric_names(a) for a in alarms.values()]
    dlq = {"Fn::GetAtt": [default_synth.logical_id(default_synth.stack.jobs.dead_letter_queue), "QueueName"]}
    # Every message in the DLQ counts, the ones the DLQ consumer holds (in flight) too.
    [depth] = [
        a["Properties"]
        for a in alarms.values()
        if metric_names(a) == {"ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible"}
    ]
    assert depth["Threshold"] == 1
    assert all(
        m["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "QueueName", "Value": dlq}]
        for m in depth["Metrics"]
        if "MetricStat" in m
    )
    # error rate and throttles per function: sync, stream, worker, the key authorizer, the DLQ consumer
    assert sum({"Errors", "Invocations"} <= n for n in names) == 5
    assert sum(n == {"Throttles"} for n in names) == 5
    assert {"5XXError"} in names
    latency = [a for a in alarms.values() if a["Properties"].get("MetricName") == "Latency"]
    assert latency and latency[0]["Properties"]["ExtendedStatistic"] == "p99"
    assert sum(a["Properties"].get("ExtendedStatistic") == "p99" for a in alarms.values()) >= 4
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [topic], name


def test_dashboard_exists(default_synth):
    dashboard = default_synth.one("AWS::CloudWatch::Dashboard")
    body = json.dumps(resolve(dashboard["Properties"]["DashboardBody"]))
    for expected in ("API requests and errors", "Jobs queue", "Tokens by target", "Alarms"):
        assert expected in body


def test_alarms_and_dashboard_read_what_every_door_emits(default_synth):
    """tests/integration/test_observability.py proves each door (sync, stream, worker) emits Errors by
    {ErrorCode, service} and tokens by {Target, service}; these must be exactly what infra reads."""
    from bedrock_gateway import observability

    alarms = default_synth.resources("AWS::CloudWatch::Alarm").values()
    throttles = [
        a["Properties"]
        for a in alarms
        if a["Properties"].get("Namespace") == observability.NAMESPACE
        and a["Properties"].get("MetricName") == observability.ERRORS_METRIC
    ]
    assert len(throttles) == 1
    dimensions = {d["Name"]: d["Value"] for d in throttles[0]["Dimensions"]}
    assert dimensions == {
        observability.ERROR_CODE_DIMENSION: "ThrottlingException",
        "service": observability.SERVICE,
    }

    body = json.dumps(resolve(default_synth.one("AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"]))
    searches = set(re.findall(r"SEARCH\('\{([^}]*)\} MetricName=\W*(\w+)", body))
    dimensions_of: dict[str, set[frozenset[str]]] = {}
    for keys, metric in searches:
        dimensions_of.setdefault(metric, set()).add(frozenset(keys.split(",")[1:]))
    assert dimensions_of[observability.ERRORS_METRIC] == {
        frozenset({observability.ERROR_CODE_DIMENSION, "service"})
    }
    by_target = frozenset({observability.TARGET_DIMENSION, "service"})
    by_tenant = frozenset({observability.TENANT_DIMENSION, observability.TARGET_DIMENSION, "service"})
    assert dimensions_of["InputTokens"] == {by_target, by_tenant}
    assert all(keys.split(",")[0] == observability.NAMESPACE for keys, _ in searches)
