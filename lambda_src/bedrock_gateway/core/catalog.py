"""Bedrock's catalog of record: the facts in ``catalog.json`` that the gateway and the emulator share.

``catalog.json`` is rebuilt by hand from AWS's public Bedrock documentation; every entry carries the
page it comes from (``source``) and, where a fact is incomplete, a ``note``. This module only reads it:
standard library only, loaded on first use and cached, so importing it costs nothing.

Dicts returned here are the catalog's own (shared) objects: treat them as read-only.

    from bedrock_gateway.core import catalog
    catalog.foundation_model("anthropic.claude-sonnet-4-6")["limits"]["maxOutputTokens"]   # 131072
    catalog.lifecycle("anthropic.claude-v2")["status"]                                      # "EOL"
    catalog.profile_destinations("global.anthropic.claude-sonnet-4-6", "eu-west-1")          # [...]
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from pathlib import Path

CATALOG_PATH = Path(__file__).with_name("catalog.json")

ACTIVE, LEGACY, EOL = "ACTIVE", "LEGACY", "EOL"
_DATE_KEYS = ("startOfLife", "legacy", "publicExtendedAccess", "endOfLife")


@cache
def load() -> dict:
    """The whole catalog as parsed JSON (read once per process)."""
    return json.loads(CATALOG_PATH.read_text(encoding="utf-8"))


@cache
def _models_by_id() -> dict[str, dict]:
    return {m["modelId"]: m for m in load()["foundation_models"]}


@cache
def _profiles_by_id() -> dict[str, dict]:
    geographies = load()["geographies"]
    out = {}
    for entry in load()["system_inference_profiles"]:
        model = _models_by_id()[entry["model"]]
        geo = geographies[entry["geography"]]
        profile_id = f"{entry['geography']}.{entry['model']}"
        provider = "" if model["providerName"] == "Amazon" else model["providerName"] + " "
        out[profile_id] = {
            "inferenceProfileId": profile_id,
            "inferenceProfileName": f"{geo['name']} {provider}{model['modelName']}",
            "geography": entry["geography"],
            "model": entry["model"],
            "routes": entry.get("routes", geo["routes"]),
            "source": entry["source"],
        }
    return out


def as_of() -> str:
    """The date (ISO) the catalog was last checked against AWS's documentation."""
    return load()["as_of"]


def foundation_models() -> list[dict]:
    """Every foundation model in the catalog, retired ones included (check ``lifecycle``)."""
    return list(load()["foundation_models"])


def foundation_model(model_id: str) -> dict | None:
    """One foundation model by ID (not ARN), or None."""
    return _models_by_id().get(model_id)


def response_streaming(model_id: str) -> bool | None:
    """Whether the model answers InvokeModelWithResponseStream (``responseStreamingSupported``), or
    None for a model the catalog does not list."""
    model = foundation_model(model_id)
    return bool(model["responseStreamingSupported"]) if model else None


def max_output_tokens(model_id: str) -> int | None:
    """The model's documented output-token limit, or None where AWS does not publish one."""
    model = foundation_model(model_id)
    return model["limits"]["maxOutputTokens"] if model else None


def converse_features(model_id: str) -> dict:
    """What the Converse API supports for the model (``systemPrompts``, ``toolUse``, ...); {} if unknown."""
    model = foundation_model(model_id)
    return model["converse"] if model else {}


def lifecycle(model_id: str, region: str | None = None, on: date | None = None) -> dict | None:
    """The model's lifecycle in ``region`` on day ``on`` (default today), or None for an unknown model.

    Returns ``{"status": "ACTIVE"|"LEGACY"|"EOL", "startOfLife"?, "legacy"?, "publicExtendedAccess"?,
    "endOfLife"?, "source"}`` with ISO dates. Where the catalog has dates, the status follows them (so
    a Legacy model turns EOL on its EOL date); without dates it is the documented status. Region rows
    (``byRegion``) override the model's default dates, as the lifecycle page lists them per Region.
    """
    model = foundation_model(model_id)
    if model is None:
        return None
    recorded = model["lifecycle"]
    dates = {k: recorded[k] for k in _DATE_KEYS if k in recorded}
    if region and region in recorded.get("byRegion", {}):
        dates.update(recorded["byRegion"][region])
    status = recorded["status"]
    day = (on or date.today()).isoformat()
    if "endOfLife" in dates or "legacy" in dates:
        if "endOfLife" in dates and day >= dates["endOfLife"]:
            status = EOL
        elif "legacy" in dates and day >= dates["legacy"]:
            status = LEGACY
        elif "legacy" in dates:
            status = ACTIVE
        # an EOL date without a Legacy date keeps the documented status until that date
        elif status == EOL:
            status = LEGACY
    return {"status": status, **dates, "source": recorded["source"]}


def retired(model_id: str) -> str | None:
    """ "reached its end of life in Bedrock on <date>" when the catalog says ``model_id`` has, else None."""
    return retirement(lifecycle(model_id))


def retirement(life: dict | None) -> str | None:
    """:func:`retired`'s wording for a lifecycle :func:`lifecycle` already returned (None: not ended)."""
    if life is None or life["status"] != EOL:
        return None
    return "reached its end of life in Bedrock" + (f" on {life['endOfLife']}" if "endOfLife" in life else "")


def geographies() -> dict[str, dict]:
    """Inference-profile geographies by ID prefix (``us``, ``eu``, ``apac``, ``global``, ...)."""
    return dict(load()["geographies"])


def system_profiles() -> list[dict]:
    """Every system-defined (cross-Region) inference profile: ID, name, geography, model, routes."""
    return list(_profiles_by_id().values())


def system_profile(profile_id: str) -> dict | None:
    """One system-defined inference profile by ID (``us.anthropic...``, ``global.amazon...``), or None."""
    return _profiles_by_id().get(profile_id)


def profile_source_regions(profile_id: str) -> list[str]:
    """The Regions the profile can be called from (empty for an unknown profile)."""
    profile = system_profile(profile_id)
    if profile is None:
        return []
    return [region for route in profile["routes"] for region in route["sources"]]


def profile_destinations(profile_id: str, source_region: str) -> list[str]:
    """The Regions a call from ``source_region`` can be routed to; [] if it cannot be called from there.

    Destinations depend on the source Region (e.g. ``us.`` from us-west-1 also reaches us-west-1).
    """
    profile = system_profile(profile_id)
    if profile is None:
        return []
    for route in profile["routes"]:
        if source_region in route["sources"]:
            return list(route["destinations"])
    return []


def all_destinations(profile_id: str) -> list[str]:
    """Every Region ``profile_id`` may route to, from any source Region (for IAM where the calling
    Region is not known at synth); for a profile the catalog does not list, its geography's Regions."""
    profile = system_profile(profile_id)
    split = split_profile_id(profile_id)
    if profile is not None:
        routes = profile["routes"]
    elif split is not None:
        routes = load()["geographies"][split[0]]["routes"]
    else:
        return []
    return list(dict.fromkeys(region for route in routes for region in route["destinations"]))


def split_profile_id(identifier: str) -> tuple[str, str] | None:
    """``"us.anthropic.claude..."`` -> ``("us", "anthropic.claude...")`` for a known geography prefix."""
    for prefix in sorted(load()["geographies"], key=len, reverse=True):
        if identifier.startswith(prefix + "."):
            return prefix, identifier[len(prefix) + 1 :]
    return None
