"""The stream function: the ASGI stream app under uvicorn, behind the Lambda Web Adapter."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from bedrock_gateway import snapstart
from bedrock_gateway.edge import routes
from constructs import Construct

from infra import lambda_platform
from infra.bedrock_access import BedrockResources
from infra.components.gateway_function import FunctionBasics, GatewayFunction
from infra.lambda_asset import RUN_SCRIPT_NAME

APP_PORT = "8000"
READINESS_PATH = routes.STREAM_READINESS_PATH
#: API Gateway's limit for a streamed response is 15 minutes; long generations need all of it.
TIMEOUT = Duration.minutes(15)
#: uvicorn, the adapter and the app's event-stream decoding share the CPU; 1 GB keeps chunk
#: forwarding from queueing behind parsing.
MEMORY_MB = 1024


class StreamFunction(Construct):
    """``POST /v1/targets/{target}/stream`` with Lambda response streaming."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        basics: FunctionBasics,
        bedrock: BedrockResources,
    ) -> None:
        super().__init__(scope, construct_id)
        adapter = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "WebAdapterLayer",
            lambda_platform.web_adapter_layer_arn(),
        )
        self.gateway_function = GatewayFunction(
            self,
            "Handler",
            basics=basics,
            handler=RUN_SCRIPT_NAME,
            description="Bedrock gateway: streaming invoke (Lambda Web Adapter, response streaming)",
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            layers=[adapter],
            environment={
                "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
                "AWS_LWA_INVOKE_MODE": "response_stream",
                "AWS_LWA_PORT": APP_PORT,
                "AWS_LWA_READINESS_CHECK_PATH": READINESS_PATH,
                **(snapstart_hook_paths() if basics.snap_start else {}),
            },
        )
        self.gateway_function.allow(
            *bedrock.invoke_statements(
                streaming=True
            ),  # InvokeModel too: the fallback for models that cannot stream
            *bedrock.lookup_statements(),
        )
        self.function = self.gateway_function.function
        self.alias = self.gateway_function.alias  # what API Gateway invokes


def snapstart_hook_paths() -> dict[str, str]:
    """The app's SnapStart hooks, which the adapter (release 1.1.0 and later) calls over HTTP: uvicorn is
    a process of its own, where no Python runtime runs ``snapshot_restore_py`` hooks."""
    return {
        "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH": snapstart.BEFORE_SNAPSHOT_PATH,
        "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH": snapstart.AFTER_RESTORE_PATH,
    }
