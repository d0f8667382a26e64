"""Build the CDK app: settings from context, the stack, tags and the cdk-nag checks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import Annotations, App, Tags

from infra.nag import add_aws_solutions_checks
from infra.settings import CONTEXT_OPTIONS, PROJECT_ROOT, GatewaySettings, unknown_context_names
from infra.stack import BedrockGatewayStack

STACK_PREFIX = "BedrockGateway"


def build_app(
    context: Mapping[str, Any] | None = None, outdir: str | None = None
) -> tuple[App, BedrockGatewayStack]:
    """The app with its one stack. Raises ``ConfigError``/``SettingsError`` on bad config or context."""
    # The CLI passes cdk.json's context itself; in-process builds (tests) read it here, so both
    # synthesize with the same feature flags.
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    unknown = unknown_context_names(app.node.get_all_context())
    settings = GatewaySettings.from_context(app.node.try_get_context)
    stack = BedrockGatewayStack(
        app,
        f"{STACK_PREFIX}-{settings.stage}",
        settings=settings,
        description=f"Amazon Bedrock gateway ({settings.stage}): REST API, streaming, SQS jobs",
    )
    if unknown:
        Annotations.of(stack).add_warning_v2(
            "bedrock-gateway:unknownContext",
            f"context {', '.join(sorted(unknown))}: not an option of this app, ignored "
            f"(the options: {', '.join(CONTEXT_OPTIONS)})",
        )
    Tags.of(app).add("project", "bedrock-gateway")
    Tags.of(app).add("stage", settings.stage)
    add_aws_solutions_checks(app)
    return app, stack


def cdk_json_context() -> dict[str, Any]:
    return json.loads((PROJECT_ROOT / "cdk.json").read_text(encoding="utf-8")).get("context", {})
