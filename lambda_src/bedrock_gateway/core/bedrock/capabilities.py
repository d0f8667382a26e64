"""What a target's model can do, known without calling it: config first, then the catalog of record,
then Bedrock's control plane (only for identifiers that hide their model)."""

from __future__ import annotations

import functools
import time

from bedrock_gateway.core.clients import CallBudget, client
from bedrock_gateway.core.model_ids import ModelKind, ModelRef
from bedrock_gateway.core.targets import Target, TargetsConfig

#: Control-plane lookups are small and cached: a short budget keeps a listing fast when they fail.
CONTROL_BUDGET = CallBudget(read_timeout=5, attempts=2)
#: After a failed lookup, skip lookups for this long (a listing must stay fast).
LOOKUP_PAUSE_SECONDS = 60
_lookups_paused_until = 0.0


def streaming_supported(target: Target) -> bool | None:
    """Whether ``target`` can stream: config, else the catalog of record (base models and system
    profiles, no call), else GetInferenceProfile/GetFoundationModel (cached per container).

    Returns None when it cannot be known (e.g. provisioned throughput of a custom model, or the
    control plane is unreachable): the stream path then tries streaming and falls back.
    """
    known = target.known_streaming()
    if known is not None:
        return known
    return _looked_up_streaming(target.ref, target.models)


def prime(config: TargetsConfig) -> None:
    """Ready :func:`streaming_supported` for ``config``'s targets without a call (SnapStart priming): the
    catalog of record, loaded by asking it, and the control-plane client when only Bedrock can tell."""
    if any(target.known_streaming() is None for target in config.targets.values()):
        client("bedrock", CONTROL_BUDGET)


def _looked_up_streaming(ref: ModelRef, models: tuple[str, ...]) -> bool | None:
    global _lookups_paused_until
    if time.monotonic() < _lookups_paused_until:
        return None
    try:
        model_id = ref.foundation_model_id
        if model_id is None and ref.kind is ModelKind.APPLICATION_INFERENCE_PROFILE:
            model_id = _profile_model_id(ref.raw)
        if model_id is None and models:
            model_id = models[0].rsplit("/", 1)[1]
        return _foundation_model_streams(model_id) if model_id else None
    except Exception:  # noqa: BLE001 - best effort; failures are not cached, the pause bounds their cost
        _lookups_paused_until = time.monotonic() + LOOKUP_PAUSE_SECONDS
        return None


@functools.lru_cache(maxsize=256)
def _foundation_model_streams(model_id: str) -> bool:
    details = client("bedrock", CONTROL_BUDGET).get_foundation_model(modelIdentifier=model_id)["modelDetails"]
    return bool(details.get("responseStreamingSupported", False))


@functools.lru_cache(maxsize=256)
def _profile_model_id(profile: str) -> str | None:
    response = client("bedrock", CONTROL_BUDGET).get_inference_profile(inferenceProfileIdentifier=profile)
    models = response.get("models", [])
    return models[0]["modelArn"].rsplit("/", 1)[1] if models else None


def reset() -> None:
    """Forget cached capabilities and any lookup pause."""
    global _lookups_paused_until
    _lookups_paused_until = 0.0
    _foundation_model_streams.cache_clear()
    _profile_model_id.cache_clear()
