"""Read-only access to one account's Bedrock control plane in one region, each list fetched once."""

from __future__ import annotations

import functools
import os
from datetime import date
from typing import Any

from bedrock_gateway.core import catalog
from bedrock_gateway.core.bedrock.capabilities import CONTROL_BUDGET

PROFILE_TYPES = ("SYSTEM_DEFINED", "APPLICATION")
#: Readable names of the catalog's inference-profile geographies (others: the catalog's own name).
GEO_NAMES = {
    "us": "US",
    "us-gov": "GovCloud (US)",
    "eu": "EU",
    "apac": "Asia Pacific",
    "jp": "Japan",
    "au": "Australia",
    "ca": "Canada",
    "global": "commercial",
}


def control_client(region: str | None = None):
    """The ``bedrock`` control-plane client for ``region`` (else :func:`gateway_cli.aws.region`'s).

    With the emulator's endpoint (``AWS_ENDPOINT_URL_BEDROCK``) set and no credentials configured, it
    signs with placeholder ones: the emulator does not check them, so offline use needs nothing else.
    """
    from botocore.config import Config

    from .aws import session as aws_session

    session = aws_session(region)
    budget = Config(
        connect_timeout=CONTROL_BUDGET.connect_timeout,
        read_timeout=CONTROL_BUDGET.read_timeout,
        retries={"mode": "standard", "total_max_attempts": CONTROL_BUDGET.attempts},
    )
    offline: dict[str, str] = {}
    if os.environ.get("AWS_ENDPOINT_URL_BEDROCK") and session.get_credentials() is None:
        offline = {"aws_access_key_id": "offline", "aws_secret_access_key": "offline"}
    return session.client("bedrock", config=budget, **offline)


def model_id_of(arn: str) -> str:
    """The model ID at the end of a foundation-model ARN."""
    return arn.rsplit("/", 1)[-1]


def region_of(arn: str) -> str:
    return arn.split(":")[3] if arn.count(":") >= 5 else ""


def geo_name(geo: str) -> str:
    """``"jp"`` -> ``"Japan"``: how messages name a ``<geo>.`` profile's geography."""
    return GEO_NAMES.get(geo) or catalog.geographies().get(geo, {}).get("name") or geo


def end_of_life(
    model: dict[str, Any] | None, model_id: str, region: str, today: date | None = None
) -> str | None:
    """The model's end-of-life date (ISO): the account's ``modelLifecycle`` if it gives one, else the catalog's."""
    live = (model or {}).get("modelLifecycle", {}).get("endOfLifeTime")
    if live:
        return live.date().isoformat() if hasattr(live, "date") else str(live)[:10]
    return (catalog.lifecycle(model_id, region, today) or {}).get("endOfLife")


def geo_sources(geo: str) -> list[str]:
    """The Regions a ``<geo>.`` system profile can be called from, per the catalog ([] if unknown)."""
    geography = catalog.geographies().get(geo)
    return [region for route in geography["routes"] for region in route["sources"]] if geography else []


def geo_serves(geo: str, region: str) -> bool:
    """Whether a ``<geo>.`` system profile can be called from ``region`` (the catalog's source Regions)."""
    return region in geo_sources(geo)


class Account:
    """Bedrock resources visible to ``client`` (its region is the one being checked)."""

    def __init__(self, client: Any):
        self.client = client
        self.region: str = client.meta.region_name
        self._profile_lists: dict[str, list[dict[str, Any]]] = {}

    def _all(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a list operation: boto3's paginator when there is one, else a nextToken loop."""
        if self.client.can_paginate(operation):
            pages = self.client.get_paginator(operation).paginate(**params)
            return [item for page in pages for item in page.get(key, [])]
        items: list[dict[str, Any]] = []
        while True:
            page = getattr(self.client, operation)(**params)
            items.extend(page.get(key, []))
            if not page.get("nextToken"):
                return items
            params["nextToken"] = page["nextToken"]

    def _get(self, operation: str, **params: Any) -> dict[str, Any] | None:
        """One resource, or None when Bedrock says it does not exist."""
        from botocore.exceptions import ClientError

        try:
            return getattr(self.client, operation)(**params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise

    @functools.cached_property
    def foundation_models(self) -> dict[str, dict[str, Any]]:
        """ListFoundationModels by model ID (the operation has no pagination)."""
        return {m["modelId"]: m for m in self._all("list_foundation_models", "modelSummaries")}

    def foundation_model(self, model_id: str) -> dict[str, Any] | None:
        """A base model from the list, else from GetFoundationModel (a profile may route to unlisted ones)."""
        if model_id in self.foundation_models:
            return self.foundation_models[model_id]
        found = self._get("get_foundation_model", modelIdentifier=model_id)
        return found and found.get("modelDetails")

    def profiles(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Inference profiles of one type, or both (asked for separately: AWS defaults to system ones)."""
        return [p for t in PROFILE_TYPES if kind in (None, t) for p in self._profiles(t)]

    def _profiles(self, kind: str) -> list[dict[str, Any]]:
        if kind not in self._profile_lists:
            self._profile_lists[kind] = self._all(
                "list_inference_profiles", "inferenceProfileSummaries", typeEquals=kind
            )
        return self._profile_lists[kind]

    def profile(self, identifier: str) -> dict[str, Any] | None:
        return self._get("get_inference_profile", inferenceProfileIdentifier=identifier)

    def system_profile_for(self, model_id: str) -> str | None:
        """The ID of a system inference profile callable here that contains ``model_id``, best match first."""
        candidates = [
            p
            for p in self.profiles("SYSTEM_DEFINED")
            if any(model_id_of(m["modelArn"]) == model_id for m in p.get("models", []))
        ]

        def rank(profile: dict[str, Any]) -> tuple[int, bool, str]:
            geo = profile["inferenceProfileId"].split(".", 1)[0]
            fit = 1 if geo == "global" else 0 if geo_serves(geo, self.region) else 2
            routes_here = self.region in {region_of(m["modelArn"]) for m in profile.get("models", [])}
            return fit, not routes_here, profile["inferenceProfileId"]

        return min(candidates, key=rank)["inferenceProfileId"] if candidates else None

    def provisioned_throughputs(self, status: str | None = None) -> list[dict[str, Any]]:
        params = {"statusEquals": status} if status else {}
        return self._all("list_provisioned_model_throughputs", "provisionedModelSummaries", **params)

    def provisioned_throughput(self, identifier: str) -> dict[str, Any] | None:
        return self._get("get_provisioned_model_throughput", provisionedModelId=identifier)

    def custom_model(self, identifier: str) -> dict[str, Any] | None:
        return self._get("get_custom_model", modelIdentifier=identifier)

    def deployment(self, identifier: str) -> dict[str, Any] | None:
        return self._get("get_custom_model_deployment", customModelDeploymentIdentifier=identifier)

    def imported_model(self, identifier: str) -> dict[str, Any] | None:
        return self._get("get_imported_model", modelIdentifier=identifier)
