"""Named targets: load and validate ``targets.toml``, resolve a name to a model, shape the call.

Callers never pass raw model IDs around; they name a target. A bad config fails fast with a message
naming the target and the offending value (at ``cdk synth``, at cold start, in ``make test``).
"""

from __future__ import annotations

import copy
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import catalog
from .errors import ErrorCode, GatewayError
from .model_ids import (
    ModelIdError,
    ModelKind,
    ModelRef,
    foundation_model_arn,
    parse_model_id,
)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
TARGET_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PERFORMANCE_LATENCY = ("standard", "optimized")
_SERVICE_TIER = ("priority", "default", "flex", "reserved")
_TRACE = ("ENABLED", "DISABLED", "ENABLED_FULL")
# botocore's GuardrailIdentifier / GuardrailVersion patterns: Bedrock rejects anything else on every call.
_GUARDRAIL_ID = re.compile(
    r"^(?:[a-z0-9]+|arn:aws(?:-[^:]+)?:bedrock:[a-z0-9-]{1,20}:\d{12}:guardrail/[a-z0-9]+)$"
)
_GUARDRAIL_VERSION = re.compile(r"^(?:[1-9]\d{0,7}|DRAFT)$")
_TOP_LEVEL_KEYS = {"default_target", "allow_raw_model_ids", "max_body_bytes", "expose_model_ids", "targets"}
_TARGET_KEYS = {
    "model",
    "kind",
    "models",
    "defaults",
    "guardrail",
    "trace",
    "performance_latency",
    "service_tier",
    "streaming",
    "description",
    "price",
    "aliases",
    "legacy_completions",
}


class ConfigError(ValueError):
    """The targets config is invalid; the message names the file, the target and the bad value."""


@dataclass(frozen=True)
class Guardrail:
    """A guardrail applied to every call of a target."""

    id: str
    version: str


@dataclass(frozen=True)
class Price:
    """What a target's tokens cost, in USD per million (as AWS lists Bedrock prices), for usage reports."""

    input_per_million: float
    output_per_million: float

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float:
        return (
            (input_tokens or 0) * self.input_per_million + (output_tokens or 0) * self.output_per_million
        ) / 1e6


@dataclass(frozen=True)
class Target:
    """One named target: a model identifier plus how to call it."""

    name: str
    ref: ModelRef
    models: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    guardrail: Guardrail | None = None
    trace: str | None = None
    performance_latency: str | None = None
    service_tier: str | None = None
    streaming: bool | None = None  # None: the catalog of record, else GetFoundationModel
    description: str = ""
    price: Price | None = None
    aliases: tuple[str, ...] = ()  # model IDs callers may send for this target (drop-in routes)
    legacy_completions: bool = False  # accept Anthropic's text-completion body, translated to Messages
    raw: bool = False  # an allowed raw model ID, not a configured target

    @property
    def model_id(self) -> str:
        """The ``modelId`` passed to InvokeModel."""
        return self.ref.raw

    @property
    def counting_model_id(self) -> str:
        """The ``modelId`` passed to CountTokens, which takes the foundation model, not a profile."""
        named = self.models[0].rsplit("/", 1)[1] if self.models else None
        return self.ref.foundation_model_id or named or self.ref.raw

    @property
    def kind(self) -> ModelKind:
        return self.ref.kind

    def prepare_body(self, body: bytes, parsed: dict[str, Any]) -> bytes:
        """The request body to send: target defaults merged under the caller's JSON (caller wins).

        Without defaults the caller's bytes go through untouched, so what reaches Bedrock is exactly
        what was sent.
        """
        if not self.defaults:
            return body
        return json.dumps(deep_merge(self.defaults, parsed), separators=(",", ":"), allow_nan=False).encode()

    def known_streaming(self) -> bool | None:
        """Whether this target can stream, as far as its config or the catalog of record say: the
        config's ``streaming``, else the catalog's flag for the base model the identifier names (base
        models and system inference profiles). None: only the control plane can tell (application
        profiles, provisioned throughput, custom and imported models, a model the catalog lacks)."""
        if self.streaming is not None:
            return self.streaming
        model_id = self.ref.foundation_model_id
        return catalog.response_streaming(model_id) if model_id else None

    def invoke_params(self) -> dict[str, Any]:
        """Extra InvokeModel / InvokeModelWithResponseStream parameters from the target's options."""
        params: dict[str, Any] = {}
        if self.guardrail:
            params["guardrailIdentifier"] = self.guardrail.id
            params["guardrailVersion"] = self.guardrail.version
        if self.trace:
            params["trace"] = self.trace
        if self.performance_latency:
            params["performanceConfigLatency"] = self.performance_latency
        if self.service_tier:
            params["serviceTier"] = self.service_tier
        return params

    def iam_invoke_resources(
        self, region: str, account: str, partition: str = "aws", source_region: str | None = None
    ) -> list[str]:
        """The exact resource ARNs ``bedrock:InvokeModel*`` needs for this target.

        ``region``/``account`` are the deploying stack's (they may be CDK tokens). Inference profiles
        need the profile ARN plus the foundation-model ARN in every destination region: for a system
        profile, the destinations the catalog documents from ``source_region`` when it is known, else
        from any source Region of the profile (a region-agnostic stack does not know where it runs).
        """
        ref = self.ref
        if ref.is_arn:
            own = ref.raw
        elif ref.kind is ModelKind.FOUNDATION_MODEL:
            own = foundation_model_arn(ref.resource_id, region, partition)
        else:  # system inference profile ID
            own = f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{ref.resource_id}"
        resources = [own]
        if ref.kind is ModelKind.INFERENCE_PROFILE:
            # AWS's cross-region policy: the profile, the model in the source (calling) region, and
            # the model in every destination region.
            resources.append(
                foundation_model_arn(ref.foundation_model_id or "", ref.region or region, partition)
            )
        if ref.kind in (ModelKind.INFERENCE_PROFILE, ModelKind.APPLICATION_INFERENCE_PROFILE):
            resources.extend(self.models or self._derived_profile_models(partition, source_region))
        return list(dict.fromkeys(resources))

    def _derived_profile_models(self, partition: str, source_region: str | None) -> list[str]:
        model_id = self.ref.foundation_model_id
        if model_id is None:  # an application profile without `models`: rejected at load
            return []
        if self.ref.geo == "global":
            # Global profiles may route to any commercial region; AWS documents the region-less ARN.
            return [f"arn:{partition}:bedrock:::foundation-model/{model_id}"]
        profile_id = self.ref.resource_id
        regions = (source_region and catalog.profile_destinations(profile_id, source_region)) or (
            catalog.all_destinations(profile_id)
        )
        return [foundation_model_arn(model_id, r, partition) for r in regions]

    def describe(self) -> dict[str, Any]:
        """The public view of this target (``GET /v1/targets``)."""
        return {
            "name": self.name,
            "kind": str(self.kind),
            "model": self.model_id,
            "streaming": self.streaming,
            "description": self.description,
        }


@dataclass(frozen=True)
class TargetsConfig:
    """The whole targets file."""

    targets: dict[str, Target]
    default_target: str | None = None
    allow_raw_model_ids: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    source: str = "<memory>"
    expose_model_ids: bool = (
        False  # show account-scoped ARNs (application profiles, provisioned...) to callers
    )

    def canonical_name(self, name: str) -> str:
        """The target name ``name`` stands for: itself, or the target it is an alias of."""
        if name in self.targets:
            return name
        return next((t.name for t in self.targets.values() if name in t.aliases), name)

    def resolve(self, name: str) -> Target:
        """The target called ``name`` (or aliased so); a raw model ID when allowed; else a 404/403."""
        target = self.targets.get(self.canonical_name(name))
        if target is not None:
            return target
        try:
            ref = parse_model_id(name)
        except ModelIdError:
            raise GatewayError(ErrorCode.TARGET_NOT_FOUND, f"unknown target {name!r}") from None
        if not self.allow_raw_model_ids:
            raise GatewayError(ErrorCode.RAW_MODEL_ID_FORBIDDEN, _raw_id_refusal(name, ref))
        return Target(name=name, ref=ref, raw=True)

    def shown_model_id(self, target: Target) -> str | None:
        """The model ID or ARN callers may see for ``target``: public IDs always; an ARN that names a
        resource in the account (and so the account ID) only when ``expose_model_ids`` is set."""
        if self.expose_model_ids or target.raw or target.ref.account is None:
            return target.model_id
        return None

    def list(self, names: frozenset[str] | None = None) -> list[dict[str, Any]]:
        """The public view of the targets (``names``: only these), as ``GET /v1/targets`` shows them."""
        return [
            dict(t.describe(), model=self.shown_model_id(t), default=(t.name == self.default_target))
            for t in self.targets.values()
            if names is None or t.name in names
        ]


def _raw_id_refusal(name: str, ref: ModelRef) -> str:
    """Why a raw model ID is refused: for a retired model, that it is retired and how code written for
    it keeps running (an alias), rather than a setting its caller cannot change."""
    base = ref.foundation_model_id
    ended = catalog.retired(base) if base else None
    if ended:
        return (
            f"{name!r} {ended}, and no target of this gateway stands in "
            "for it (the gateway's operator can add it to a target's aliases)"
        )
    return f"{name!r} is a raw model ID, not a configured target, and allow_raw_model_ids is false"


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` merged over ``base``, recursing into nested objects (lists are replaced)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_targets(path: str | os.PathLike[str] | None = None) -> TargetsConfig:
    """Load and validate the targets file (``path``, else the bundled default)."""
    path = Path(path or default_targets_path())
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read targets config ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not a TOML text file (TOML is UTF-8; byte {exc.start} is {exc.object[exc.start]:#04x})"
        ) from None
    return parse_targets(text, source=str(path))


def default_targets_path() -> Path:
    """``targets.toml`` beside the package in the Lambda asset, else the repo's ``config/targets.toml``."""
    package_root = Path(__file__).resolve().parents[2]
    for candidate in (package_root / "targets.toml", package_root.parent / "config" / "targets.toml"):
        if candidate.is_file():
            return candidate
    return package_root.parent / "config" / "targets.toml"


def parse_targets(text: str, source: str = "<memory>") -> TargetsConfig:
    """Parse and validate targets TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return _build_config(data, source)


def _build_config(data: dict[str, Any], source: str) -> TargetsConfig:
    def fail(message: str) -> ConfigError:
        return ConfigError(f"{source}: {message}")

    unknown = set(data) - _TOP_LEVEL_KEYS
    if unknown:
        raise fail(f"unknown top-level key(s) {sorted(unknown)}; allowed: {sorted(_TOP_LEVEL_KEYS)}")
    raw_targets = data.get("targets", {})
    if not isinstance(raw_targets, dict) or not raw_targets:
        raise fail("no targets: add at least one [targets.<name>] table")
    allow_raw = data.get("allow_raw_model_ids", False)
    if not isinstance(allow_raw, bool):
        raise fail(f"allow_raw_model_ids must be true or false, got {allow_raw!r}")
    max_body = data.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)
    if not isinstance(max_body, int) or isinstance(max_body, bool) or not 1 <= max_body <= 6 * 1024 * 1024:
        raise fail(
            f"max_body_bytes must be an integer from 1 to 6291456 (Lambda's payload limit), got {max_body!r}"
        )

    targets = {name: _build_target(name, spec, fail) for name, spec in raw_targets.items()}
    claimed: dict[str, str] = {}
    for target in targets.values():
        for alias in target.aliases:
            if alias in targets or alias in claimed:
                owner = claimed.get(alias, alias)
                raise fail(
                    f"target {target.name!r}: alias {alias!r} is already the name or an alias of {owner!r}"
                )
            claimed[alias] = target.name
    default = data.get("default_target")
    if default is not None and default not in targets:
        raise fail(f"default_target {default!r} is not a configured target (have: {', '.join(targets)})")
    expose = data.get("expose_model_ids", False)
    if not isinstance(expose, bool):
        raise fail(f"expose_model_ids must be true or false, got {expose!r}")
    return TargetsConfig(targets, default, allow_raw, max_body, source, expose)


def _build_target(name: str, spec: Any, fail) -> Target:
    where = f"target {name!r}"
    if not TARGET_NAME.match(name):
        raise fail(f"{where}: names may use letters, digits, '-' and '_' (1-64 characters)")
    if not isinstance(spec, dict):
        raise fail(f"{where}: expected a table [targets.{name}]")
    unknown = set(spec) - _TARGET_KEYS
    if unknown:
        raise fail(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_TARGET_KEYS)}")
    model = spec.get("model")
    if not isinstance(model, str):
        raise fail(f"{where}: 'model' is required and must be a model ID or ARN, got {model!r}")
    try:
        ref = parse_model_id(model)
    except ModelIdError as exc:
        raise fail(f"{where}: model {model!r} is invalid: {exc}") from None

    kind = spec.get("kind")
    if kind is not None:
        try:
            stated = ModelKind(kind)
        except ValueError:
            raise fail(f"{where}: kind {kind!r} is not one of {[k.value for k in ModelKind]}") from None
        if stated is not ref.kind:
            raise fail(f"{where}: kind {kind!r} does not match model {model!r}, which is a {ref.kind}")

    models = spec.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise fail(f"{where}: 'models' must be a list of foundation-model ARNs")
    for arn in models:
        try:
            model_ref = parse_model_id(arn)
        except ModelIdError as exc:
            raise fail(f"{where}: models entry {arn!r} is invalid: {exc}") from None
        if model_ref.kind is not ModelKind.FOUNDATION_MODEL or not model_ref.is_arn:
            raise fail(f"{where}: models entry {arn!r} must be a foundation-model ARN")
    if models and ref.kind not in (ModelKind.INFERENCE_PROFILE, ModelKind.APPLICATION_INFERENCE_PROFILE):
        raise fail(f"{where}: 'models' applies to inference profiles only; {model!r} is a {ref.kind}")
    if ref.kind is ModelKind.APPLICATION_INFERENCE_PROFILE and not models:
        raise fail(
            f"{where}: application inference profile {model!r} hides its model; state "
            'models = ["arn:aws:bedrock:<region>::foundation-model/<id>", ...] so IAM can be scoped '
            "(`make targets ARGS=check` verifies them)"
        )

    defaults = spec.get("defaults", {})
    if not isinstance(defaults, dict):
        raise fail(f"{where}: 'defaults' must be a table of body fields")

    guardrail = spec.get("guardrail")
    if guardrail is not None:
        if (
            not isinstance(guardrail, dict)
            or set(guardrail) != {"id", "version"}
            or not all(isinstance(v, str) and v for v in guardrail.values())
        ):
            raise fail(f'{where}: guardrail must be {{ id = "...", version = "..." }}, got {guardrail!r}')
        if not _GUARDRAIL_ID.match(guardrail["id"]):
            raise fail(
                f"{where}: guardrail id {guardrail['id']!r} is not a guardrail ID (lowercase letters and "
                "digits, e.g. 'abc123def456') or guardrail ARN"
            )
        if not _GUARDRAIL_VERSION.match(guardrail["version"]):
            raise fail(f"{where}: guardrail version {guardrail['version']!r} must be a number or 'DRAFT'")
        guardrail = Guardrail(guardrail["id"], guardrail["version"])

    def enum_option(key: str, allowed: tuple[str, ...]) -> str | None:
        value = spec.get(key)
        if value is not None and value not in allowed:
            raise fail(f"{where}: {key} {value!r} must be one of {list(allowed)}")
        return value

    streaming = spec.get("streaming")
    if streaming is not None and not isinstance(streaming, bool):
        raise fail(f"{where}: streaming must be true or false, got {streaming!r}")
    aliases = spec.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise fail(f'{where}: aliases must be a list of model IDs callers send, e.g. ["anthropic.claude-v2"]')
    for alias in aliases:
        try:
            parse_model_id(alias)
        except ModelIdError as exc:
            raise fail(f"{where}: alias {alias!r} is not a model ID: {exc}") from None
    legacy = spec.get("legacy_completions", False)
    if not isinstance(legacy, bool):
        raise fail(f"{where}: legacy_completions must be true or false, got {legacy!r}")
    family = ref.foundation_model_id or next((m.rsplit("/", 1)[1] for m in models), "")
    if legacy and not family.startswith("anthropic.claude"):
        raise fail(
            f"{where}: legacy_completions translates to Anthropic's Messages API: the model must be a Claude "
            f"model (base model, system profile, or `models` naming one), not {model!r}"
        )
    price = spec.get("price")
    if price is not None:
        keys = {"input_per_million", "output_per_million"}
        if (
            not isinstance(price, dict)
            or set(price) != keys
            or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in price.values()
            )
        ):
            raise fail(
                f"{where}: price must be {{ input_per_million = <USD>, output_per_million = <USD> }}, got {price!r}"
            )
        price = Price(float(price["input_per_million"]), float(price["output_per_million"]))
    description = spec.get("description", "")
    if not isinstance(description, str):
        raise fail(f"{where}: description must be a string")

    return Target(
        name=name,
        ref=ref,
        models=tuple(models),
        defaults=defaults,
        guardrail=guardrail,
        trace=enum_option("trace", _TRACE),
        performance_latency=enum_option("performance_latency", _PERFORMANCE_LATENCY),
        service_tier=enum_option("service_tier", _SERVICE_TIER),
        streaming=streaming,
        description=description,
        price=price,
        aliases=tuple(aliases),
        legacy_completions=legacy,
    )
