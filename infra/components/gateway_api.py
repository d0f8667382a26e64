"""The regional REST API: the route table's routes, auth mode, stage access logs and throttling,
request validation, and the gateway's JSON error shape for everything API Gateway answers itself."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from bedrock_gateway.edge import routes
from constructs import Construct

from infra.nag import acknowledge

#: API Gateway's ceiling for a streamed response (the stream function's timeout matches it).
STREAM_INTEGRATION_TIMEOUT = Duration.minutes(15)
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "caller": "$context.identity.caller",
    "userArn": "$context.identity.userArn",
    "apiKeyId": "$context.identity.apiKeyId",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integration.latency",
    "integrationStatus": "$context.integration.status",
    "integrationError": "$context.integration.error",
    "errorType": "$context.error.responseType",
    "errorMessage": "$context.error.message",
    "xrayTraceId": "$context.xrayTraceId",
}
# Gateway-generated errors in the gateway's JSON error shape ({"error": {"code", "message", "requestId"}}),
# plus what AWS SDKs read on the /model routes (botocore's rest-json error parser): the message at the
# top level and the exception name in x-amzn-ErrorType.
_ERROR_BODY = (
    '{"error":{"code":"%s","message":$context.error.messageString,"requestId":"$context.requestId"},'
    '"message":$context.error.messageString}'
)


def _sdk_error(exception: str) -> dict[str, str]:
    """The header that makes botocore raise Bedrock Runtime's modeled ``exception``."""
    return {"x-amzn-ErrorType": f"'{exception}'"}


_GATEWAY_ERRORS: dict[str, tuple[apigw.ResponseType, str, dict[str, str]]] = {
    "Default4xx": (apigw.ResponseType.DEFAULT_4_XX, "$context.error.responseType", {}),
    "Default5xx": (apigw.ResponseType.DEFAULT_5_XX, "$context.error.responseType", {}),
    "BadRequestBody": (
        apigw.ResponseType.BAD_REQUEST_BODY,
        "InvalidRequest",
        _sdk_error("ValidationException"),
    ),
    "BadRequestParameters": (
        apigw.ResponseType.BAD_REQUEST_PARAMETERS,
        "InvalidRequest",
        _sdk_error("ValidationException"),
    ),
    "RequestTooLarge": (
        apigw.ResponseType.REQUEST_TOO_LARGE,
        "PayloadTooLarge",
        _sdk_error("ValidationException"),
    ),
    # ThrottlingException: SDKs back off and retry it (botocore's retry modes list it as throttling).
    "Throttled": (
        apigw.ResponseType.THROTTLED,
        "TooManyRequests",
        {"Retry-After": "'1'", **_sdk_error("ThrottlingException")},
    ),
    "Unauthorized": (
        apigw.ResponseType.UNAUTHORIZED,
        "Unauthorized",
        {"WWW-Authenticate": "'Bearer'", **_sdk_error("AccessDeniedException")},
    ),
    "AccessDenied": (apigw.ResponseType.ACCESS_DENIED, "AccessDenied", _sdk_error("AccessDeniedException")),
    "QuotaExceeded": (
        apigw.ResponseType.QUOTA_EXCEEDED,
        "QuotaExceeded",
        _sdk_error("ServiceQuotaExceededException"),
    ),
    "IntegrationTimeout": (apigw.ResponseType.INTEGRATION_TIMEOUT, "IntegrationTimeout", {}),
}

# API Gateway's own message for these says nothing of what to do ("Unauthorized").
_FIXED_MESSAGES = {"Unauthorized": routes.KEY_REQUIRED_MESSAGE}


def _error_template(code: str, message: str | None = None) -> str:
    """A gateway response's JSON error body: API Gateway's own message, or ``message`` in its place."""
    body = _ERROR_BODY % code
    if message is None:
        return body
    return body.replace("$context.error.messageString", json.dumps(message))


class GatewayApi(Construct):
    """The route table's routes (:mod:`bedrock_gateway.edge.routes`) to the sync and stream functions.

    Auth: ``iam`` (SigV4, default), ``key`` (gateway keys: ``Authorization: Bearer``, checked by
    ``authorizer``, usage plan per key), ``apiKey`` (usage plan + key in ``x-api-key``) or ``none``.
    Routes marked ``KEY_AUTH`` (Bedrock's own, for AWS SDKs, which cannot SigV4-sign for API Gateway)
    take a gateway key in every mode; with ``apiKey`` the API reads usage-plan keys from ``x-api-key``,
    so there they are not tied to a per-key plan (stage throttling still applies).
    Request size: API Gateway's 10 MB payload ceiling is fixed; the targets file's ``max_body_bytes``
    (at most Lambda's 6 MB) is enforced by the handlers with a 413. Errors API Gateway answers
    itself (auth, throttling, validation, too large) carry the same JSON error body.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage_name: str,
        auth: str,
        authorizer: apigw.IAuthorizer,
        sync_function: lambda_.IFunction,
        stream_function: lambda_.IFunction,
        job_request_schema: dict[str, Any],
        rate_limit: int,
        burst_limit: int,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.auth = auth
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=removal_policy
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"bedrock-gateway-{stage_name}",
            description="Amazon Bedrock invocation gateway (sync, streaming and jobs)",
            endpoint_configuration=apigw.EndpointConfiguration(types=[apigw.EndpointType.REGIONAL]),
            # Execution logging needs the account-level CloudWatch role; kept on stack deletion because
            # other APIs in the account/region use the same setting.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            default_method_options=_method_options(auth, authorizer),
            # API-wide: gateway keys name their usage-plan key through the authorizer, except with
            # auth=apiKey, whose callers send theirs in x-api-key.
            api_key_source_type=(
                apigw.ApiKeySourceType.HEADER if auth == "apiKey" else apigw.ApiKeySourceType.AUTHORIZER
            ),
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
                # ERROR, not INFO, and no data trace: request bodies are prompts and must not be logged.
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=rate_limit,
                throttling_burst_limit=burst_limit,
            ),
        )
        # API Gateway creates its execution log group on first write, without retention; owning it
        # first (the stage waits for it) keeps retention and removal under this stack's control.
        self.execution_logs = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{self.api.rest_api_id}/{stage_name}",
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.api.deployment_stage.node.add_dependency(self.execution_logs)
        self._add_error_responses()
        self._add_routes(sync_function, stream_function, job_request_schema, authorizer)
        if auth == "apiKey":
            self._add_usage_plan(rate_limit, burst_limit)
        self._acknowledge_findings()

    def _add_routes(
        self,
        sync_function: lambda_.IFunction,
        stream_function: lambda_.IFunction,
        job_request_schema: dict[str, Any],
        authorizer: apigw.IAuthorizer,
    ) -> None:
        """API Gateway resources and methods for every route of the gateway's route table."""
        # One permission per method (tighter than API-wide); console test invokes are not needed.
        integrations = {
            routes.SYNC: apigw.LambdaIntegration(sync_function, allow_test_invoke=False),
            routes.STREAM: apigw.LambdaIntegration(
                stream_function,
                response_transfer_mode=apigw.ResponseTransferMode.STREAM,
                timeout=STREAM_INTEGRATION_TIMEOUT,
                allow_test_invoke=False,
            ),
        }
        parameters = self.api.add_request_validator(
            "PathParameters",
            request_validator_name="path-parameters",
            validate_request_parameters=True,
        )
        body = self.api.add_request_validator(
            "JobRequestBody",
            request_validator_name="job-request-body",
            validate_request_body=True,
            validate_request_parameters=True,
        )
        self.job_request = self.api.add_model(
            "JobRequest",
            content_type="application/json",
            model_name="JobRequest",
            description="POST /v1/jobs body (the SQS job message contract)",
            schema=json_schema(job_request_schema, root=True),
        )
        body_models = {"job": self.job_request}
        self.methods: dict[str, apigw.Method] = {}
        for route in routes.ROUTES:
            for path in route.paths:  # a route whose parameter may be an ARN has a second, split path
                options: dict[str, Any] = {}
                if path_parameters := routes.path_parameters(path):
                    options["request_parameters"] = {
                        f"method.request.path.{name}": True for name in path_parameters
                    }
                    options["request_validator"] = parameters
                if route.body_schema:
                    options["request_models"] = {"application/json": body_models[route.body_schema]}
                    options["request_validator"] = body
                if route.auth == routes.KEY_AUTH:
                    options.update(
                        authorizer=authorizer,
                        authorization_type=apigw.AuthorizationType.CUSTOM,
                        api_key_required=self.auth != "apiKey",
                    )
                method = self.api.root.resource_for_path(path).add_method(
                    route.method, integrations[route.door], **options
                )
                self.methods.setdefault(route.name, method)  # the route's own path

    def _add_error_responses(self) -> None:
        for name, (response_type, code, headers) in _GATEWAY_ERRORS.items():
            self.api.add_gateway_response(
                name,
                type=response_type,
                response_headers={"Content-Type": "'application/json'", **headers},
                templates={"application/json": _error_template(code, _FIXED_MESSAGES.get(name))},
            )
        # API Gateway's answer to a method and path the API lacks is "403 Missing Authentication Token";
        # with IAM auth that type also means an unsigned request, so it keeps its 403 there, named so.
        if self.auth == "iam":
            status, code, message, error_type = (
                "403",
                "MissingAuthenticationToken",
                routes.UNSIGNED_MESSAGE,
                "MissingAuthenticationTokenException",
            )
        else:
            status, code, message, error_type = (
                "404",
                "NotFound",
                routes.NO_ROUTE_MESSAGE,
                routes.NO_ROUTE_ERROR_TYPE,
            )
        self.api.add_gateway_response(
            "NoRoute",
            type=apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
            status_code=status,
            response_headers={"Content-Type": "'application/json'", **_sdk_error(error_type)},
            templates={"application/json": _error_template(code, message)},
        )

    def _add_usage_plan(self, rate_limit: int, burst_limit: int) -> None:
        self.api_key = self.api.add_api_key("ApiKey", description="Bedrock gateway client key (auth=apiKey)")
        plan = self.api.add_usage_plan(
            "UsagePlan",
            description="Throttling for API-key clients",
            throttle=apigw.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
        )
        plan.add_api_stage(stage=self.api.deployment_stage)
        plan.add_api_key(self.api_key)

    def _acknowledge_findings(self) -> None:
        acknowledge(
            self.api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-level CloudWatch role: AWS's managed policy is the documented way to let "
            "API Gateway write execution logs, and it only grants CloudWatch Logs writes.",
        )
        acknowledge(
            self.api,
            "AwsSolutions-APIG3",
            "No WAF web ACL: every route needs SigV4, a gateway key (the Bedrock-compatible /model routes) or "
            "the deployer's explicit auth choice, the stage is throttled, and bodies are validated and "
            "size-limited by the handlers. Attach a WAFv2 ACL to the stage if the API is exposed to untrusted "
            "networks.",
        )
        cognito_reason = {
            "iam": "Callers authenticate with IAM (SigV4, AuthorizationType AWS_IAM): the gateway serves AWS "
            "workloads and roles, not end users with Cognito identities.",
            "key": "The deployer chose auth=key (context): clients present gateway keys, checked by the stack's "
            "Lambda authorizer and bound to a usage plan.",
            "apiKey": "The deployer chose auth=apiKey (context): clients present an API key bound to a "
            "usage plan.",
            "none": "The deployer chose auth=none (context), e.g. behind a private network or for a demo.",
        }[self.auth]
        key_routes = (
            " The Bedrock-compatible /model routes take gateway keys (Authorization: Bearer, what AWS SDKs send "
            "with AWS_BEARER_TOKEN_BEDROCK), checked by the stack's Lambda authorizer, not Cognito."
        )
        acknowledge(
            self.api, "AwsSolutions-COG4", cognito_reason + ("" if self.auth == "key" else key_routes)
        )
        if self.auth not in ("iam", "key"):
            # Only the /v1 routes have no authorizer here; the /model routes have the key authorizer.
            acknowledge(self.api, "AwsSolutions-APIG4", f"The /v1 routes: {cognito_reason}")


def _method_options(auth: str, authorizer: apigw.IAuthorizer) -> apigw.MethodOptions | None:
    """The auth mode's options: every route's, except where the route table asks for the key authorizer."""
    if auth == "iam":
        return apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM)
    if auth == "key":
        return apigw.MethodOptions(
            authorizer=authorizer, authorization_type=apigw.AuthorizationType.CUSTOM, api_key_required=True
        )
    if auth == "apiKey":
        return apigw.MethodOptions(api_key_required=True)
    return None


def json_schema(schema: dict[str, Any], *, root: bool = False) -> apigw.JsonSchema:
    """A JSON Schema dict (draft-4 keywords) as CDK's ``JsonSchema``, so the API validates job bodies
    with the same schema the handlers use."""
    props: dict[str, Any] = {"schema": apigw.JsonSchemaVersion.DRAFT4} if root else {}
    for key, value in schema.items():
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
        if key == "type":
            value = getattr(apigw.JsonSchemaType, value.upper())
        elif key == "properties":
            value = {prop: json_schema(sub) for prop, sub in value.items()}
        elif isinstance(value, dict):
            value = json_schema(value)
        props[name] = value
    return apigw.JsonSchema(**props)
