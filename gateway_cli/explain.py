"""``targets explain <id>``: what kind of identifier it is and how it will be invoked."""

from __future__ import annotations

from typing import Any

from bedrock_gateway.core import catalog
from bedrock_gateway.core.model_ids import ModelKind, ModelRef
from bedrock_gateway.core.targets import Target

from .account import geo_name, region_of
from .aws import region as aws_region

_HIDDEN = {
    ModelKind.APPLICATION_INFERENCE_PROFILE: "hidden: GetInferenceProfile resolves it",
    ModelKind.PROVISIONED_THROUGHPUT: "hidden: GetProvisionedModelThroughput resolves it",
    ModelKind.CUSTOM_MODEL_DEPLOYMENT: "hidden: GetCustomModelDeployment, then GetCustomModel, resolve it",
    ModelKind.IMPORTED_MODEL: "its own weights: GetImportedModel gives the architecture and body format",
}
_NEEDS = {
    ModelKind.FOUNDATION_MODEL: "ON_DEMAND in the model's inferenceTypesSupported, else an inference profile",
    ModelKind.INFERENCE_PROFILE: "the profile to exist in the calling region",
    ModelKind.APPLICATION_INFERENCE_PROFILE: "the profile to be ACTIVE; body format is its model's",
    ModelKind.PROVISIONED_THROUGHPUT: "status InService; body format is the base model's",
    ModelKind.CUSTOM_MODEL_DEPLOYMENT: "status Active; body format is the base model's",
    ModelKind.IMPORTED_MODEL: "the import to be complete; body format follows its architecture",
}


def explain(
    ref: ModelRef,
    region: str | None = None,
    account: str | None = None,
    models: tuple[str, ...] = (),
    target: str | None = None,
) -> dict[str, Any]:
    """What the ID's shape alone says: kind, form, where it lives, its model, the call, IAM resources."""
    region = ref.region or aws_region(region)
    if ref.geo == "global":
        calls_from = "any commercial region"
    elif ref.geo:
        name = geo_name(ref.geo)
        calls_from = f"{'an' if name[0] in 'AEIO' else 'a'} {name} region"  # an EU, a US
    else:
        calls_from = ref.region or "the caller's region"
    resources = Target(name="explain", ref=ref, models=models).iam_invoke_resources(
        region or "<region>", ref.account or account or "<account>", ref.partition
    )
    if ref.kind is ModelKind.APPLICATION_INFERENCE_PROFILE and not models:
        resources.append(
            "+ the foundation-model ARNs it routes to (state `models` in config; --live lists them)"
        )
    return {
        "target": target,
        "identifier": ref.raw,
        "kind": str(ref.kind),
        "description": ref.describe(),
        "form": "ARN" if ref.is_arn else "ID",
        "partition": ref.partition,
        "region": ref.region,
        "account": ref.account,
        "geo": ref.geo,
        "routesTo": list(dict.fromkeys(region_of(m) for m in models)) or _destinations(ref, region) or None,
        "foundationModel": ref.foundation_model_id,
        "foundationModelNote": None if ref.foundation_model_id else _HIDDEN.get(ref.kind),
        "models": list(models),
        "invoke": f"bedrock-runtime InvokeModel / InvokeModelWithResponseStream, modelId={ref.raw!r}, "
        f"called from {calls_from}",
        "requires": _NEEDS[ref.kind],
        "iamActions": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
        "iamResources": resources,
    }


def _destinations(ref: ModelRef, region: str | None) -> list[str]:
    """A system profile's destination Regions per the catalog: from ``region``, else from any source."""
    if not ref.geo:
        return []
    from_here = catalog.profile_destinations(ref.resource_id, region) if region else []
    return from_here or catalog.all_destinations(ref.resource_id)


def render(info: dict[str, Any]) -> list[str]:
    """The human form: one ``label  value`` line per known fact, IAM resources indented."""
    live = info.get("live") or {}
    facts = dict(live.get("facts", {}))
    resolved = facts.pop("model", None)
    facts.pop("routesTo", None)
    if facts.get("arn") == info["identifier"]:
        del facts["arn"]
    stated = ", ".join(dict.fromkeys(m.rsplit("/", 1)[-1] for m in info["models"]))
    model = (
        info["foundationModel"]
        or (resolved and f"{resolved} (resolved live)")
        or (stated and f"{stated} (per the target's `models`)")
        or info["foundationModelNote"]
    )
    rows = [
        ("target", info["target"]),
        ("identifier", info["identifier"]),
        ("kind", f"{info['kind']} ({info['form']})"),
        ("what", info["description"]),
        ("region", info["region"]),
        ("account", info["account"]),
        ("routes to", ", ".join(info["routesTo"] or ()) or None),
        ("model", model),
        ("invoke", info["invoke"]),
        ("requires", info["requires"]),
    ]
    rows += [(key, {True: "yes", False: "no"}.get(value, value)) for key, value in facts.items()]
    rows += [
        (f["level"], f["message"] + (f"; {f['fix']}" if f["fix"] else "")) for f in live.get("findings", [])
    ]
    lines = [f"{label:<11}{value}" for label, value in rows if value not in (None, "")]
    lines.append(f"{'iam':<11}{', '.join(info['iamActions'])} on:")
    lines += [f"{'':<13}{arn}" for arn in info["iamResources"]]
    return lines
