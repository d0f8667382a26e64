"""Build the CDK app: settings from context, the stack, tags and the cdk-nag checks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Tags

from infra.nag import add_aws_solutions_checks
from infra.settings import PROJECT_ROOT, GatewaySettings
from infra.stack import BedrockGatewayStack

STACK_PREFIX = "BedrockGateway"


def build_app(
    context: Mapping[str, Any] | None = None, outdir: str | None = None
) -> tuple[App, BedrockGatewayStack]:
    """The app with its one stack. Raises ``ConfigError``/``SettingsError`` on bad config or context."""
    # The CLI passes cdk.json's context itself; in-process builds (tests) read it here, so both
    # synthesize with the same feature flags.
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    settings = GatewaySettings.from_context(app.node.try_get_context)
    stack = BedrockGatewayStack(
        app,
        f"{STACK_PREFIX}-{settings.stage}",
        settings=settings,
        description=f"Amazon Bedrock gateway ({settings.stage}): REST API, streaming, SQS jobs",
    )
    Tags.of(app).add("project", "bedrock-gateway")
    Tags.of(app).add("stage", settings.stage)
    add_aws_solutions_checks(app)
    return app, stack


def cdk_json_context() -> dict[str, Any]:
    return json.loads((PROJECT_ROOT / "cdk.json").read_text(encoding="utf-8")).get("context", {})
