"""The ``bedrock`` control plane (REST-JSON, GET operations only), paths from botocore's service model."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from .catalog import Catalog
from .errors import BedrockError, enum_violation, validation

DEFAULT_PAGE_SIZE = 5  # small on purpose, so that callers must follow nextToken

_PROVISIONED_STATUS = ["Creating", "InService", "Updating", "Failed"]
_MODALITIES = ["TEXT", "IMAGE", "EMBEDDING"]
_CUSTOMIZATIONS = ["FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION"]
_INFERENCE_TYPES = ["ON_DEMAND", "PROVISIONED"]
_PROFILE_TYPES = ["SYSTEM_DEFINED", "APPLICATION"]
_DEPLOYMENT_STATUS = ["Creating", "Active", "Failed"]
_CREATION_WINDOW = ("creationTimeBefore", "creationTimeAfter")


def _enum(query: dict, name: str, allowed: list[str]) -> str | None:
    value = query.get(name)
    if value is not None and value not in allowed:
        raise enum_violation(value, name, allowed)
    return value


def _timestamp(query: dict, name: str) -> datetime | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise validation(
            f"1 validation error detected: Value '{value}' at '{name}' is not a valid timestamp"
        ) from None


def _created(item_time: str) -> datetime:
    return datetime.fromisoformat(item_time.replace("Z", "+00:00"))


def paginate(operation: str, items: list, query: dict) -> tuple[list, str | None]:
    """One page of ``items`` after ``nextToken``; the token is opaque to callers."""
    raw_max = query.get("maxResults")
    size = DEFAULT_PAGE_SIZE
    if raw_max is not None:
        try:
            size = int(raw_max)
        except ValueError:
            raise validation(
                f"1 validation error detected: Value '{raw_max}' at 'maxResults' "
                "failed to satisfy constraint: Member must be a number"
            ) from None
        if not 1 <= size <= 1000:
            bound = "greater than or equal to 1" if size < 1 else "less than or equal to 1000"
            raise validation(
                f"1 validation error detected: Value '{size}' at 'maxResults' "
                f"failed to satisfy constraint: Member must have value {bound}"
            )
    offset = 0
    token = query.get("nextToken")
    if token is not None:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
            if decoded["op"] != operation:
                raise ValueError(token)
            offset = int(decoded["offset"])
        except (ValueError, KeyError, TypeError):
            raise validation("The provided pagination token is invalid.") from None
    page = items[offset : offset + size]
    end = offset + size
    next_token = None
    if end < len(items):
        raw = json.dumps({"op": operation, "offset": end}).encode()
        next_token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return page, next_token


def _sorted(items: list, query: dict, created) -> list:
    order = _enum(query, "sortOrder", ["Ascending", "Descending"]) or "Descending"
    _enum(query, "sortBy", ["CreationTime"])
    return sorted(items, key=created, reverse=order == "Descending")


def _time_window(items: list, query: dict, created, before: str, after: str) -> list:
    t_before, t_after = _timestamp(query, before), _timestamp(query, after)
    if t_before:
        items = [i for i in items if _created(created(i)) < t_before]
    if t_after:
        items = [i for i in items if _created(created(i)) > t_after]
    return items


def handle(catalog: Catalog, segments: list[str], query: dict, region: str) -> tuple[str, dict] | None:
    """Answer a GET on the control plane: ``(operation name, response body)``, or None if no route.

    ``segments`` are the URL-decoded path segments. Raises ``BedrockError``.
    """
    route = tuple(segments)
    match route:
        case ("foundation-models",):
            return "ListFoundationModels", _list_foundation_models(catalog, query, region)
        case ("foundation-models", identifier):
            fm = catalog.find_foundation_model(identifier)
            if fm is None or catalog.is_retired(fm, region):  # after EOL a model is only in the docs
                raise BedrockError(
                    "ResourceNotFoundException",
                    "Could not resolve the foundation model from the provided model identifier.",
                )
            return "GetFoundationModel", {"modelDetails": fm.summary(region, catalog.lifecycle(fm, region))}
        case ("inference-profiles",):
            kind = _enum(query, "type", _PROFILE_TYPES)
            profiles = [p for p in catalog.profiles_in(region) if kind in (None, p.type)]
            page, token = paginate("ListInferenceProfiles", profiles, query)
            return "ListInferenceProfiles", _with_token(
                {"inferenceProfileSummaries": [p.describe(region) for p in page]}, token
            )
        case ("inference-profiles", identifier):
            profile = catalog.find_profile(identifier, region)
            if profile is None:
                raise BedrockError("ResourceNotFoundException", f"Inference profile {identifier} not found.")
            return "GetInferenceProfile", profile.describe(region)
        case ("provisioned-model-throughputs",):
            return "ListProvisionedModelThroughputs", _list_provisioned(catalog, query)
        case ("provisioned-model-throughput", identifier):
            pt = catalog.find_provisioned(identifier)
            if pt is None:
                raise BedrockError("ResourceNotFoundException", f"Provisioned model {identifier} not found.")
            return "GetProvisionedModelThroughput", pt.describe()
        case ("custom-models",):
            items = list(catalog.custom_models.values())
            if query.get("nameContains"):
                items = [c for c in items if query["nameContains"] in c.name]
            if query.get("baseModelArnEquals"):
                items = [c for c in items if c.base.arn(region) == query["baseModelArnEquals"]]
            status = _enum(query, "modelStatus", ["Active", "Creating", "Failed"])
            items = [c for c in items if status in (None, c.status)]
            items = _time_window(items, query, lambda c: c.creation_time, *_CREATION_WINDOW)
            items = _sorted(items, query, lambda c: c.creation_time)
            page, token = paginate("ListCustomModels", items, query)
            return "ListCustomModels", _with_token({"modelSummaries": [c.summary() for c in page]}, token)
        case ("custom-models", identifier):
            cm = catalog.find_custom_model(identifier)
            if cm is None:
                raise BedrockError("ResourceNotFoundException", f"Custom model {identifier} not found.")
            return "GetCustomModel", cm.describe()
        case ("imported-models",):
            items = list(catalog.imported.values())
            if query.get("nameContains"):
                items = [m for m in items if query["nameContains"] in m.name]
            items = _time_window(items, query, lambda m: m.creation_time, *_CREATION_WINDOW)
            items = _sorted(items, query, lambda m: m.creation_time)
            page, token = paginate("ListImportedModels", items, query)
            return "ListImportedModels", _with_token({"modelSummaries": [m.summary() for m in page]}, token)
        case ("imported-models", identifier):
            im = catalog.find_imported(identifier)
            if im is None:
                raise BedrockError("ResourceNotFoundException", f"Imported model {identifier} not found.")
            return "GetImportedModel", im.describe()
        case ("model-customization", "custom-model-deployments"):
            items = list(catalog.deployments.values())
            status = _enum(query, "statusEquals", _DEPLOYMENT_STATUS)
            items = [d for d in items if status in (None, d.status)]
            if query.get("nameContains"):
                items = [d for d in items if query["nameContains"] in d.name]
            if query.get("modelArnEquals"):
                items = [d for d in items if d.custom_model.arn == query["modelArnEquals"]]
            items = _time_window(items, query, lambda d: d.created_at, "createdBefore", "createdAfter")
            items = _sorted(items, query, lambda d: d.created_at)
            page, token = paginate("ListCustomModelDeployments", items, query)
            return "ListCustomModelDeployments", _with_token(
                {"modelDeploymentSummaries": [d.summary() for d in page]}, token
            )
        case ("model-customization", "custom-model-deployments", identifier):
            dep = catalog.find_deployment(identifier)
            if dep is None:
                raise BedrockError(
                    "ResourceNotFoundException", f"Custom model deployment {identifier} not found."
                )
            return "GetCustomModelDeployment", dep.describe()
    return None


def _with_token(body: dict, token: str | None) -> dict:
    if token:
        body["nextToken"] = token
    return body


def _list_foundation_models(catalog: Catalog, query: dict, region: str) -> dict:
    provider = query.get("byProvider")
    customization = _enum(query, "byCustomizationType", _CUSTOMIZATIONS)
    modality = _enum(query, "byOutputModality", _MODALITIES)
    inference = _enum(query, "byInferenceType", _INFERENCE_TYPES)
    out = []
    for fm in catalog.listed_models(region):
        if provider and provider.lower() not in (fm.provider.lower(), fm.model_id.split(".", 1)[0]):
            continue
        if customization and customization not in fm.customizations:
            continue
        if modality and modality not in fm.output_modalities:
            continue
        if inference and inference not in fm.inference_types:
            continue
        out.append(fm.summary(region, catalog.lifecycle(fm, region)))
    return {"modelSummaries": out}


def _list_provisioned(catalog: Catalog, query: dict) -> dict:
    status = _enum(query, "statusEquals", _PROVISIONED_STATUS)
    items = [pt for pt in catalog.provisioned.values() if status in (None, pt.status)]
    if query.get("modelArnEquals"):
        items = [pt for pt in items if pt.model_arn == query["modelArnEquals"]]
    if query.get("nameContains"):
        items = [pt for pt in items if query["nameContains"] in pt.name]
    items = _time_window(items, query, lambda pt: pt.creation_time, *_CREATION_WINDOW)
    items = _sorted(items, query, lambda pt: pt.creation_time)
    page, token = paginate("ListProvisionedModelThroughputs", items, query)
    return _with_token({"provisionedModelSummaries": [pt.describe(full=False) for pt in page]}, token)
