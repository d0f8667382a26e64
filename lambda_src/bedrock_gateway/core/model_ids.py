"""What kind of Bedrock identifier a ``modelId`` is, from its shape alone.

InvokeModel accepts base model IDs and ARNs, system inference profile IDs and ARNs, application
inference profile ARNs, provisioned-throughput ARNs (also how custom models are used), custom-model
deployment ARNs and imported-model ARNs. The shapes follow botocore's ``InvokeModelIdentifier``
pattern for bedrock-runtime.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class ModelKind(str, Enum):
    """The kinds of identifier InvokeModel accepts (config may state one as ``kind = "..."``)."""

    FOUNDATION_MODEL = "foundation-model"
    INFERENCE_PROFILE = "inference-profile"
    APPLICATION_INFERENCE_PROFILE = "application-inference-profile"
    PROVISIONED_THROUGHPUT = "provisioned-throughput"
    CUSTOM_MODEL_DEPLOYMENT = "custom-model-deployment"
    IMPORTED_MODEL = "imported-model"

    def __str__(self) -> str:
        return self.value


#: The geography prefixes of system (cross-Region) inference profile IDs (``us.``, ``global.``, ...).
#: Where each routes, from which source Region, is in the catalog (``core/catalog.json``); a test keeps
#: this list equal to the catalog's geographies, so identifier parsing needs no catalog load.
GEO_PREFIXES: tuple[str, ...] = ("us", "us-gov", "eu", "apac", "jp", "au", "ca", "global")

_SEGMENT = r"[a-z0-9-]{1,63}"
# Every extra segment needs its separator: with an optional one, a long run of letters could be
# split in exponentially many ways, and target names are user input (ReDoS).
_BASE_MODEL_ID = re.compile(rf"^{_SEGMENT}\.{_SEGMENT}(?:[.:]{_SEGMENT})*$")
_PROFILE_ID = re.compile(
    rf"^(?P<geo>{'|'.join(sorted(GEO_PREFIXES, key=len, reverse=True))})\.(?P<model>.+)$"
)
_ARN = re.compile(
    r"^arn:(?P<partition>aws(?:-[a-z-]+)?):bedrock:(?P<region>[a-z0-9-]{1,20}):(?P<account>\d{12})?:"
    r"(?P<type>[a-z-]+)/(?P<resource>.+)$"
)
_ARN_RESOURCE_RULES: dict[str, tuple[ModelKind, re.Pattern[str], bool]] = {
    # resource type -> (kind, resource id pattern, account required)
    "foundation-model": (ModelKind.FOUNDATION_MODEL, _BASE_MODEL_ID, False),
    "inference-profile": (ModelKind.INFERENCE_PROFILE, re.compile(r"^[a-zA-Z0-9-:.]+$"), True),
    "application-inference-profile": (
        ModelKind.APPLICATION_INFERENCE_PROFILE,
        re.compile(r"^[a-zA-Z0-9-:.]+$"),
        True,
    ),
    "provisioned-model": (ModelKind.PROVISIONED_THROUGHPUT, re.compile(r"^[a-z0-9]{12}$"), True),
    "custom-model-deployment": (ModelKind.CUSTOM_MODEL_DEPLOYMENT, re.compile(r"^[a-z0-9]{12}$"), True),
    "imported-model": (ModelKind.IMPORTED_MODEL, re.compile(r"^[a-z0-9]{12}$"), True),
}


class ModelIdError(ValueError):
    """The string fits no identifier kind InvokeModel accepts."""


@dataclass(frozen=True)
class ModelRef:
    """A parsed model identifier."""

    raw: str
    kind: ModelKind
    is_arn: bool
    resource_id: str  # the part after the resource type, or the ID itself
    partition: str = "aws"
    region: str | None = None  # only ARNs carry one
    account: str | None = None
    geo: str | None = None  # system inference profiles: "us", "eu", ...

    @property
    def foundation_model_id(self) -> str | None:
        """The base model this identifier names, when its shape says so (never for application
        profiles, provisioned throughput, deployments or imported models: those hide their model)."""
        if self.kind is ModelKind.FOUNDATION_MODEL:
            return self.resource_id
        if self.kind is ModelKind.INFERENCE_PROFILE and self.geo:
            return self.resource_id.split(".", 1)[1]
        return None

    def describe(self) -> str:
        """One line saying what this identifier is and how Bedrock treats it."""
        form = "ARN" if self.is_arn else "ID"
        return {
            ModelKind.FOUNDATION_MODEL: f"base model {form}: invoked on demand in the caller's region",
            ModelKind.INFERENCE_PROFILE: (
                f"system (cross-region) inference profile {form}: routed within its geography ({self.geo}.)"
            ),
            ModelKind.APPLICATION_INFERENCE_PROFILE: (
                "application inference profile ARN: its model is hidden; resolved with GetInferenceProfile"
            ),
            ModelKind.PROVISIONED_THROUGHPUT: (
                "provisioned throughput ARN: dedicated capacity (base or custom model); must be InService"
            ),
            ModelKind.CUSTOM_MODEL_DEPLOYMENT: "custom model deployment ARN: on-demand use of a custom model",
            ModelKind.IMPORTED_MODEL: "imported model ARN: a Custom Model Import model, invoked on demand",
        }[self.kind]


def parse_model_id(value: str) -> ModelRef:
    """Parse ``value`` into a :class:`ModelRef`, or raise :class:`ModelIdError` saying why not."""
    if not isinstance(value, str) or not value.strip():
        raise ModelIdError("model identifier is empty")
    if value != value.strip():
        raise ModelIdError(f"model identifier {value!r} has surrounding whitespace")
    if len(value) > 2048:
        raise ModelIdError("model identifier is longer than 2048 characters")
    if value.startswith("arn:"):
        return _parse_arn(value)
    profile = _PROFILE_ID.match(value)
    if profile and _BASE_MODEL_ID.match(profile["model"]):
        return ModelRef(value, ModelKind.INFERENCE_PROFILE, False, value, geo=profile["geo"])
    if _BASE_MODEL_ID.match(value):
        return ModelRef(value, ModelKind.FOUNDATION_MODEL, False, value)
    raise ModelIdError(
        f"{value!r} is not a Bedrock model identifier: expected a base model ID like "
        "'amazon.nova-pro-v1:0', an inference profile ID like 'us.anthropic.claude-haiku-4-5-20251001-v1:0', "
        "or a Bedrock ARN"
    )


def _parse_arn(value: str) -> ModelRef:
    match = _ARN.match(value)
    if not match:
        raise ModelIdError(f"{value!r} is not a Bedrock ARN (arn:aws:bedrock:<region>:<account>:<type>/<id>)")
    resource_type, resource = match["type"], match["resource"]
    if resource_type == "custom-model":
        raise ModelIdError(
            f"{value!r} is a custom model ARN, which cannot be invoked directly: use its provisioned "
            "throughput ARN or a custom model deployment ARN"
        )
    rule = _ARN_RESOURCE_RULES.get(resource_type)
    if rule is None:
        raise ModelIdError(
            f"{value!r} has resource type {resource_type!r}; InvokeModel takes "
            f"{', '.join(sorted(_ARN_RESOURCE_RULES))}"
        )
    kind, pattern, account_required = rule
    account = match["account"]
    if account_required and not account:
        raise ModelIdError(f"{value!r} lacks the 12-digit account ID a {resource_type} ARN carries")
    if not account_required and account:
        raise ModelIdError(
            f"{value!r}: foundation-model ARNs have an empty account field (arn:aws:bedrock:<region>::...)"
        )
    if not pattern.match(resource):
        raise ModelIdError(f"{value!r} has a malformed {resource_type} ID {resource!r}")
    geo = None
    if kind is ModelKind.INFERENCE_PROFILE:
        profile = _PROFILE_ID.match(resource)
        if not profile or not _BASE_MODEL_ID.match(profile["model"]):
            raise ModelIdError(
                f"{value!r}: {resource!r} is not a system inference profile ID (e.g. us.<model-id>)"
            )
        geo = profile["geo"]
    return ModelRef(
        value,
        kind,
        True,
        resource,
        partition=match["partition"],
        region=match["region"],
        account=account,
        geo=geo,
    )


def foundation_model_arn(model_id: str, region: str, partition: str = "aws") -> str:
    """The foundation-model ARN of a base model ID in ``region``."""
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"


def looks_like_model_id(value: str) -> bool:
    """True when ``value`` parses as any model identifier (used to spot raw IDs given as target names)."""
    try:
        parse_model_id(value)
    except ModelIdError:
        return False
    return True
