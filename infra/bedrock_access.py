"""Least-privilege Bedrock IAM, derived from the targets config at synth.

For each target exactly the ARNs it needs (``Target.iam_invoke_resources``: inference profiles get
the profile ARN plus the foundation-model ARN in every destination region, provisioned throughput
its own ARN), guardrails for ``bedrock:ApplyGuardrail``, and the look-ups the handlers make to learn
whether a model can stream: ``bedrock:GetFoundationModel`` only for targets whose streaming neither
their config nor the catalog of record answers (``Target.known_streaming``: application profiles,
provisioned throughput, custom and imported models, models the catalog lacks),
``bedrock:GetInferenceProfile`` only for such application profiles, and ``bedrock:CountTokens`` on
the foundation model each target counts tokens with. Never a ``*`` resource.

Converse and ConverseStream have no IAM actions of their own: they are authorized by
``bedrock:InvokeModel`` and ``bedrock:InvokeModelWithResponseStream`` on the same resources
(https://docs.aws.amazon.com/bedrock/latest/userguide/inference-prereq.html,
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html), so the invoke
statements cover them. ``bedrock:CountTokens`` takes the ``foundation-model`` resource type
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from bedrock_gateway.core.model_ids import ModelKind, foundation_model_arn
from bedrock_gateway.core.targets import Target, TargetsConfig

INVOKE = "bedrock:InvokeModel"
INVOKE_STREAM = "bedrock:InvokeModelWithResponseStream"
APPLY_GUARDRAIL = "bedrock:ApplyGuardrail"
GET_FOUNDATION_MODEL = "bedrock:GetFoundationModel"
GET_INFERENCE_PROFILE = "bedrock:GetInferenceProfile"
COUNT_TOKENS = "bedrock:CountTokens"


@dataclass(frozen=True)
class BedrockResources:
    """The resource ARNs each Bedrock action needs for one targets config (may hold CDK tokens)."""

    invoke: tuple[str, ...]
    guardrails: tuple[str, ...]
    foundation_model_lookups: tuple[str, ...]
    inference_profile_lookups: tuple[str, ...]
    token_counting: tuple[str, ...]

    @classmethod
    def for_config(
        cls,
        config: TargetsConfig,
        region: str = Aws.REGION,
        account: str = Aws.ACCOUNT_ID,
        partition: str = Aws.PARTITION,
    ) -> BedrockResources:
        targets = list(config.targets.values())
        return cls(
            invoke=_unique(
                arn for t in targets for arn in t.iam_invoke_resources(region, account, partition)
            ),
            guardrails=_unique(_guardrail_arn(t, region, account, partition) for t in targets if t.guardrail),
            foundation_model_lookups=_unique(
                foundation_model_arn(model_id, region, partition)
                for t in targets
                if t.known_streaming() is None
                for model_id in _looked_up_model_ids(t)
            ),
            inference_profile_lookups=_unique(
                t.model_id
                for t in targets
                if t.known_streaming() is None and t.kind is ModelKind.APPLICATION_INFERENCE_PROFILE
            ),
            token_counting=_unique(_counting_resource(t, region, partition) for t in targets),
        )

    def invoke_statements(self, *, streaming: bool) -> list[iam.PolicyStatement]:
        """InvokeModel (plus the streaming action when asked) and ApplyGuardrail on exactly these ARNs."""
        actions = [INVOKE, INVOKE_STREAM] if streaming else [INVOKE]
        statements = [
            iam.PolicyStatement(sid="InvokeConfiguredTargets", actions=actions, resources=list(self.invoke))
        ]
        if self.guardrails:
            statements.append(
                iam.PolicyStatement(
                    sid="ApplyConfiguredGuardrails",
                    actions=[APPLY_GUARDRAIL],
                    resources=list(self.guardrails),
                )
            )
        return statements

    def count_tokens_statements(self) -> list[iam.PolicyStatement]:
        """CountTokens on the model each target counts with (only the sync function serves it)."""
        if not self.token_counting:
            return []
        return [
            iam.PolicyStatement(
                sid="CountTokensForConfiguredTargets",
                actions=[COUNT_TOKENS],
                resources=list(self.token_counting),
            )
        ]

    def lookup_statements(self) -> list[iam.PolicyStatement]:
        """The control-plane reads behind ``streaming`` for targets neither config nor the catalog answer."""
        statements = []
        if self.foundation_model_lookups:
            statements.append(
                iam.PolicyStatement(
                    sid="LookUpStreamingSupport",
                    actions=[GET_FOUNDATION_MODEL],
                    resources=list(self.foundation_model_lookups),
                )
            )
        if self.inference_profile_lookups:
            statements.append(
                iam.PolicyStatement(
                    sid="ResolveApplicationInferenceProfiles",
                    actions=[GET_INFERENCE_PROFILE],
                    resources=list(self.inference_profile_lookups),
                )
            )
        return statements


def _looked_up_model_ids(target: Target) -> list[str]:
    """The base models the handlers ask GetFoundationModel about (in the stack's region) for ``target``."""
    model_id = target.ref.foundation_model_id
    if model_id:
        return [model_id]
    # Application profiles resolve to their model at run time; config states it for synth.
    return [arn.rsplit("/", 1)[1] for arn in target.models]


def _counting_resource(target: Target, region: str, partition: str) -> str:
    """What CountTokens is called on for ``target``: ``Target.counting_model_id`` in the stack's region
    (a base model ID), or the target's own ARN when no foundation model is known for it."""
    model_id = target.counting_model_id
    return model_id if model_id.startswith("arn:") else foundation_model_arn(model_id, region, partition)


def _guardrail_arn(target: Target, region: str, account: str, partition: str) -> str:
    guardrail_id = target.guardrail.id
    if guardrail_id.startswith("arn:"):
        return guardrail_id
    return f"arn:{partition}:bedrock:{region}:{account}:guardrail/{guardrail_id}"


def _unique(values) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
