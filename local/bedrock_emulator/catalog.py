"""The emulated account (``account.json``), Bedrock's models, and model-identifier resolution.

Bedrock's own facts (foundation models, lifecycle, limits, system inference profiles) come from the
shared catalog of record, ``bedrock_gateway.core.catalog``; ``account.json`` only holds the emulated
account's resources (application profiles, provisioned throughputs, custom and imported models,
guardrails). ``Catalog.resolve`` turns the ``modelId`` of a runtime call (ID or ARN of any kind) into
a ``Target``: which model answers, in which body format, whether it can stream; or raises the
``BedrockError`` real Bedrock answers with (an EOL model's 404 included).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

try:
    from bedrock_gateway.core import catalog as record
except ModuleNotFoundError:  # started with only local/ on the path: the catalog is in the repo's lambda_src/
    sys.path.append(str(Path(__file__).resolve().parents[2] / "lambda_src"))
    from bedrock_gateway.core import catalog as record

from .errors import BedrockError, end_of_life, validation
from .families import formats_for

DEFAULT_ACCOUNT = Path(__file__).with_name("account.json")
DEFAULT_CATALOG = DEFAULT_ACCOUNT  # the old name, kept for callers

INVALID_IDENTIFIER = "The provided model identifier is invalid."
ON_DEMAND_UNSUPPORTED = (
    "Invocation of model ID {model_id} with on-demand throughput isn\u2019t supported. Retry your request "
    "with the ID or ARN of an inference profile that contains this model."
)
NO_ACCESS = "You don't have access to the model with the specified model ID."


def foundation_model_arn(region: str, model_id: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


@dataclass(frozen=True)
class FoundationModel:
    """A base model; ``formats`` are the native body formats it accepts (first = default)."""

    model_id: str
    name: str
    provider: str
    formats: tuple[str, ...]
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...]
    streaming: bool
    customizations: tuple[str, ...]
    inference_types: tuple[str, ...]
    regions: tuple[str, ...] = ()  # where it runs in-Region (empty: everywhere)
    max_output_tokens: int | None = None
    converse: dict = field(default_factory=dict)  # Converse features, from the catalog of record

    def arn(self, region: str) -> str:
        return foundation_model_arn(region, self.model_id)

    def summary(self, region: str, lifecycle: dict) -> dict:
        """The FoundationModelSummary/Details shape; ``lifecycle`` from ``Catalog.lifecycle``."""
        model_lifecycle = {"status": lifecycle["status"]}
        for key, member in (
            ("startOfLife", "startOfLifeTime"),
            ("legacy", "legacyTime"),
            ("publicExtendedAccess", "publicExtendedAccessTime"),
            ("endOfLife", "endOfLifeTime"),
        ):
            if key in lifecycle:
                model_lifecycle[member] = lifecycle[key] + "T00:00:00Z"
        return {
            "modelArn": self.arn(region),
            "modelId": self.model_id,
            "modelName": self.name,
            "providerName": self.provider,
            "inputModalities": list(self.input_modalities),
            "outputModalities": list(self.output_modalities),
            "responseStreamingSupported": self.streaming,
            "customizationsSupported": list(self.customizations),
            "inferenceTypesSupported": list(self.inference_types),
            "modelLifecycle": model_lifecycle,
        }


@dataclass(frozen=True)
class InferenceProfile:
    profile_id: str
    name: str
    description: str
    type: str  # SYSTEM_DEFINED | APPLICATION
    model: FoundationModel
    destinations: tuple[str, ...]  # regions an application profile routes to
    sources: tuple[str, ...]  # regions the profile can be called from
    account: str
    home_arn: str | None = None  # application profiles live in one region
    created_at: str = "2024-08-27T00:00:00Z"
    system_profile_id: str | None = None  # the system profile whose routes this one uses

    def arn(self, region: str) -> str:
        if self.home_arn:
            return self.home_arn
        return f"arn:aws:bedrock:{region}:{self.account}:inference-profile/{self.profile_id}"

    def destinations_from(self, region: str) -> tuple[str, ...]:
        """Where a call from ``region`` can be routed: system profiles' routes depend on the source."""
        if self.system_profile_id:
            home = region if self.type == "SYSTEM_DEFINED" else self.sources[0]
            return tuple(record.profile_destinations(self.system_profile_id, home))
        return self.destinations

    def describe(self, region: str) -> dict:
        destinations = self.destinations_from(region)
        description = self.description or (
            f"Routes requests to {self.name.split(' ', 1)[1]} in {', '.join(destinations)}."
        )
        return {
            "inferenceProfileName": self.name,
            "description": description,
            "createdAt": self.created_at,
            "updatedAt": self.created_at,
            "inferenceProfileArn": self.arn(region),
            "models": [{"modelArn": foundation_model_arn(r, self.model.model_id)} for r in destinations],
            "inferenceProfileId": self.profile_id,
            "status": "ACTIVE",
            "type": self.type,
        }


@dataclass(frozen=True)
class CustomModel:
    model_id: str
    name: str
    arn: str
    base: FoundationModel
    customization_type: str
    status: str
    job_name: str
    creation_time: str
    region: str
    account: str

    def describe(self) -> dict:
        return {
            "modelArn": self.arn,
            "modelName": self.name,
            "jobName": self.job_name,
            "jobArn": f"arn:aws:bedrock:{self.region}:{self.account}:model-customization-job/"
            f"{self.base.model_id}/{self.model_id}",
            "baseModelArn": self.base.arn(self.region),
            "customizationType": self.customization_type,
            "hyperParameters": {"epochCount": "2", "batchSize": "1", "learningRate": "0.00001"},
            "trainingDataConfig": {"s3Uri": f"s3://example-training-bucket/{self.name}/train.jsonl"},
            "outputDataConfig": {"s3Uri": f"s3://example-training-bucket/{self.name}/output/"},
            "creationTime": self.creation_time,
            "modelStatus": self.status,
        }

    def summary(self) -> dict:
        return {
            "modelArn": self.arn,
            "modelName": self.name,
            "creationTime": self.creation_time,
            "baseModelArn": self.base.arn(self.region),
            "baseModelName": self.base.name,
            "customizationType": self.customization_type,
            "ownerAccountId": self.account,
            "modelStatus": self.status,
        }


@dataclass(frozen=True)
class ProvisionedThroughput:
    pt_id: str
    name: str
    arn: str
    base: FoundationModel
    model_arn: str  # foundation-model or custom-model ARN
    custom_model: CustomModel | None
    status: str
    model_units: int
    desired_model_units: int
    creation_time: str
    region: str
    commitment: str | None = None
    failure_message: str | None = None

    def describe(self, *, full: bool = True) -> dict:
        out = {
            "provisionedModelName": self.name,
            "provisionedModelArn": self.arn,
            "modelArn": self.model_arn,
            "desiredModelArn": self.model_arn,
            "foundationModelArn": self.base.arn(self.region),
            "modelUnits": self.model_units,
            "desiredModelUnits": self.desired_model_units,
            "status": self.status,
            "creationTime": self.creation_time,
            "lastModifiedTime": self.creation_time,
        }
        if self.commitment:
            out["commitmentDuration"] = self.commitment
            out["commitmentExpirationTime"] = "2099-01-01T00:00:00Z"
        if full and self.failure_message:
            out["failureMessage"] = self.failure_message
        return out


@dataclass(frozen=True)
class CustomModelDeployment:
    deployment_id: str
    name: str
    arn: str
    custom_model: CustomModel
    status: str
    description: str
    created_at: str

    def describe(self) -> dict:
        return {
            "customModelDeploymentArn": self.arn,
            "modelDeploymentName": self.name,
            "modelArn": self.custom_model.arn,
            "createdAt": self.created_at,
            "status": self.status,
            "description": self.description,
            "lastUpdatedAt": self.created_at,
        }

    def summary(self) -> dict:
        return {
            "customModelDeploymentArn": self.arn,
            "customModelDeploymentName": self.name,
            "modelArn": self.custom_model.arn,
            "createdAt": self.created_at,
            "status": self.status,
            "lastUpdatedAt": self.created_at,
        }


@dataclass(frozen=True)
class ImportedModel:
    """A Custom Model Import model; it answers in the body format of its architecture."""

    model_id: str
    name: str
    arn: str
    architecture: str
    formats: tuple[str, ...]
    streaming: bool
    instruct_supported: bool
    job_name: str
    s3_uri: str
    creation_time: str
    region: str
    account: str

    def describe(self) -> dict:
        return {
            "modelArn": self.arn,
            "modelName": self.name,
            "jobName": self.job_name,
            "jobArn": f"arn:aws:bedrock:{self.region}:{self.account}:model-import-job/{self.model_id}",
            "modelDataSource": {"s3DataSource": {"s3Uri": self.s3_uri}},
            "creationTime": self.creation_time,
            "modelArchitecture": self.architecture,
            "instructSupported": self.instruct_supported,
            "customModelUnits": {"customModelUnitsPerModelCopy": 1, "customModelUnitsVersion": "1.0"},
        }

    def summary(self) -> dict:
        return {
            "modelArn": self.arn,
            "modelName": self.name,
            "creationTime": self.creation_time,
            "instructSupported": self.instruct_supported,
            "modelArchitecture": self.architecture,
        }


@dataclass(frozen=True)
class Target:
    """What an invocation's ``modelId`` resolved to."""

    kind: str  # foundation-model | inference-profile | application-inference-profile |
    # provisioned-model | custom-model-deployment | imported-model
    model_id: str  # as sent, URL-decoded
    resolved_id: str  # the foundation model ID (imported models: their ARN)
    formats: tuple[str, ...]
    streaming: bool
    model_name: str  # for response bodies that name the model (Anthropic messages)
    resource_arn: str
    model: FoundationModel | None = None  # the base model (None for imported models)

    @property
    def max_output_tokens(self) -> int | None:
        return self.model.max_output_tokens if self.model else None


@dataclass
class Catalog:
    """All models and account resources, with ARNs for one account and home region.

    ``today`` is the day lifecycle dates are compared with (None: the real date), so a test can pin it.
    """

    region: str
    account: str
    today: date | None = None
    guardrails: dict[str, dict] = field(default_factory=dict)  # by guardrail ID
    foundation_models: dict[str, FoundationModel] = field(default_factory=dict)
    system_profiles: dict[str, InferenceProfile] = field(default_factory=dict)
    application_profiles: dict[str, InferenceProfile] = field(default_factory=dict)  # by ARN
    custom_models: dict[str, CustomModel] = field(default_factory=dict)  # by ARN
    provisioned: dict[str, ProvisionedThroughput] = field(default_factory=dict)  # by ARN
    deployments: dict[str, CustomModelDeployment] = field(default_factory=dict)  # by ARN
    imported: dict[str, ImportedModel] = field(default_factory=dict)  # by ARN

    @classmethod
    def load(
        cls, region: str, account: str, path: str | Path | None = None, today: date | None = None
    ) -> Catalog:
        """Bedrock's models from the catalog of record, plus ``account.json`` (or ``path``) for ``account``."""
        data = json.loads(Path(path or DEFAULT_ACCOUNT).read_text())
        cat = cls(region=region, account=account, today=today)
        for m in record.foundation_models():
            fm = FoundationModel(
                model_id=m["modelId"],
                name=m["modelName"],
                provider=m["providerName"],
                formats=formats_for(m["modelId"]),
                input_modalities=tuple(m["inputModalities"]),
                output_modalities=tuple(m["outputModalities"]),
                streaming=bool(m["responseStreamingSupported"]),
                customizations=tuple(m.get("customizationsSupported", [])),
                inference_types=tuple(m["inferenceTypesSupported"]),
                regions=tuple(m.get("regions", ())),
                max_output_tokens=m["limits"]["maxOutputTokens"],
                converse=m["converse"],
            )
            cat.foundation_models[fm.model_id] = fm
        for p in record.system_profiles():
            cat.system_profiles[p["inferenceProfileId"]] = InferenceProfile(
                profile_id=p["inferenceProfileId"],
                name=p["inferenceProfileName"],
                description="",
                type="SYSTEM_DEFINED",
                model=cat.foundation_models[p["model"]],
                destinations=(),
                sources=tuple(record.profile_source_regions(p["inferenceProfileId"])),
                account=account,
                created_at="2025-06-01T00:00:00Z",
                system_profile_id=p["inferenceProfileId"],
            )
        cat.guardrails = {g["id"]: g for g in data.get("guardrails", [])}
        fill = {"region": region, "account": account}
        for p in data.get("application_inference_profiles", []):
            src = p["copyFrom"].format(**fill)
            system_id = None
            if src in cat.system_profiles:
                model, destinations = cat.system_profiles[src].model, ()
                system_id = src
            else:
                model, destinations = cat.foundation_models[src], (region,)
            arn = f"arn:aws:bedrock:{region}:{account}:application-inference-profile/{p['id']}"
            cat.application_profiles[arn] = InferenceProfile(
                profile_id=p["id"],
                name=p["name"],
                description=p.get("description", ""),
                type="APPLICATION",
                model=model,
                destinations=destinations,
                sources=(region,),
                account=account,
                home_arn=arn,
                created_at=p.get("createdAt", "2024-11-01T00:00:00Z"),
                system_profile_id=system_id,
            )
        custom_by_id: dict[str, CustomModel] = {}
        for c in data.get("custom_models", []):
            base = cat.foundation_models[c["baseModel"]]
            cm = CustomModel(
                model_id=c["id"],
                name=c["name"],
                arn=f"arn:aws:bedrock:{region}:{account}:custom-model/{base.model_id}/{c['id']}",
                base=base,
                customization_type=c.get("customizationType", "FINE_TUNING"),
                status=c.get("status", "Active"),
                job_name=c.get("jobName", c["name"] + "-job"),
                creation_time=c.get("creationTime", "2024-06-01T00:00:00Z"),
                region=region,
                account=account,
            )
            custom_by_id[cm.model_id] = cm
            cat.custom_models[cm.arn] = cm
        for p in data.get("provisioned_throughputs", []):
            custom = custom_by_id[p["customModel"]] if "customModel" in p else None
            base = custom.base if custom else cat.foundation_models[p["model"]]
            pt = ProvisionedThroughput(
                pt_id=p["id"],
                name=p["name"],
                arn=f"arn:aws:bedrock:{region}:{account}:provisioned-model/{p['id']}",
                base=base,
                model_arn=custom.arn if custom else base.arn(region),
                custom_model=custom,
                status=p["status"],
                model_units=p.get("modelUnits", 1),
                desired_model_units=p.get("desiredModelUnits", p.get("modelUnits", 1)),
                creation_time=p.get("creationTime", "2024-01-01T00:00:00Z"),
                region=region,
                commitment=p.get("commitmentDuration"),
                failure_message=p.get("failureMessage"),
            )
            cat.provisioned[pt.arn] = pt
        for d in data.get("custom_model_deployments", []):
            dep = CustomModelDeployment(
                deployment_id=d["id"],
                name=d["name"],
                arn=f"arn:aws:bedrock:{region}:{account}:custom-model-deployment/{d['id']}",
                custom_model=custom_by_id[d["customModel"]],
                status=d.get("status", "Active"),
                description=d.get("description", ""),
                created_at=d.get("createdAt", "2024-06-01T00:00:00Z"),
            )
            cat.deployments[dep.arn] = dep
        for i in data.get("imported_models", []):
            im = ImportedModel(
                model_id=i["id"],
                name=i["name"],
                arn=f"arn:aws:bedrock:{region}:{account}:imported-model/{i['id']}",
                architecture=i.get("modelArchitecture", "llama3"),
                formats=tuple(i.get("formats", ["llama"])),
                streaming=bool(i.get("responseStreamingSupported", True)),
                instruct_supported=bool(i.get("instructSupported", True)),
                job_name=i.get("jobName", i["name"] + "-job"),
                s3_uri=i.get("s3Uri", f"s3://example-model-bucket/{i['name']}/"),
                creation_time=i.get("creationTime", "2024-09-01T00:00:00Z"),
                region=region,
                account=account,
            )
            cat.imported[im.arn] = im
        return cat

    # ---- look-ups shared by the runtime and the control plane ----

    def lifecycle(self, fm: FoundationModel, region: str) -> dict:
        """The model's lifecycle in ``region`` on the catalog's day (see ``record.lifecycle``)."""
        return record.lifecycle(fm.model_id, region, self.today)

    def is_retired(self, fm: FoundationModel, region: str) -> bool:
        return self.lifecycle(fm, region)["status"] == record.EOL

    def listed_models(self, region: str) -> list[FoundationModel]:
        """What ListFoundationModels shows in ``region``: after EOL a model is only in the docs."""
        return [
            fm
            for fm in self.foundation_models.values()
            if not self.is_retired(fm, region)
            and (not fm.regions or region in fm.regions or self._profiled(fm))
        ]

    def _profiled(self, fm: FoundationModel) -> bool:
        return any(p.model is fm for p in self.system_profiles.values())

    def profiles_in(self, region: str) -> list[InferenceProfile]:
        """Inference profiles callable from ``region``: system ones first, then application ones."""
        system = [
            p
            for p in self.system_profiles.values()
            if region in p.sources and not self.is_retired(p.model, region)
        ]
        app = [p for p in self.application_profiles.values() if region in p.sources]
        return system + app

    def find_profile(self, identifier: str, region: str) -> InferenceProfile | None:
        """A profile by ID or ARN, as GetInferenceProfile accepts it."""
        for p in self.profiles_in(region):
            if identifier in (p.profile_id, p.arn(region)):
                return p
        return None

    def find_foundation_model(self, identifier: str) -> FoundationModel | None:
        """A base model by ID or foundation-model ARN (any region)."""
        if identifier.startswith("arn:"):
            parts = identifier.split(":", 5)
            if (
                len(parts) != 6
                or parts[2] != "bedrock"
                or parts[4]
                or not parts[5].startswith("foundation-model/")
            ):
                return None
            identifier = parts[5].split("/", 1)[1]
        return self.foundation_models.get(identifier)

    def find_guardrail(self, identifier: str, version: str) -> dict | None:
        """A guardrail of the account by ID or ARN, if it has ``version``."""
        guardrail_id = identifier.rsplit("/", 1)[-1]
        guardrail = self.guardrails.get(guardrail_id)
        if guardrail is None or str(version) not in guardrail.get("versions", ["DRAFT"]):
            return None
        return guardrail

    @staticmethod
    def _by_name_or_arn(items: dict, identifier: str, id_attr: str):
        for arn, item in items.items():
            if identifier in (arn, item.name, getattr(item, id_attr)):
                return item
        return None

    def find_provisioned(self, identifier: str) -> ProvisionedThroughput | None:
        return self._by_name_or_arn(self.provisioned, identifier, "pt_id")

    def find_custom_model(self, identifier: str) -> CustomModel | None:
        return self._by_name_or_arn(self.custom_models, identifier, "model_id")

    def find_deployment(self, identifier: str) -> CustomModelDeployment | None:
        return self._by_name_or_arn(self.deployments, identifier, "deployment_id")

    def find_imported(self, identifier: str) -> ImportedModel | None:
        return self._by_name_or_arn(self.imported, identifier, "model_id")

    # ---- runtime resolution ----

    def resolve(self, model_id: str, region: str) -> Target:
        """Resolve an InvokeModel ``modelId`` (already URL-decoded) as seen from ``region``."""
        if not model_id:
            raise validation(INVALID_IDENTIFIER)
        if not model_id.startswith("arn:"):
            fm = self.foundation_models.get(model_id)
            if fm:
                return self._on_demand(fm, model_id, region)
            if record.split_profile_id(model_id) and model_id in self.system_profiles:
                profile = self.system_profiles[model_id]
                if self.is_retired(profile.model, region):
                    raise end_of_life()
            profile = next(
                (
                    p
                    for p in self.system_profiles.values()
                    if p.profile_id == model_id and region in p.sources
                ),
                None,
            )
            if profile:
                return self._via_profile(profile, model_id, region)
            raise validation(INVALID_IDENTIFIER)

        parts = model_id.split(":", 5)
        if len(parts) != 6 or parts[1] != "aws" or parts[2] != "bedrock" or "/" not in parts[5]:
            raise validation(INVALID_IDENTIFIER)
        _, _, _, arn_region, arn_account, resource = parts
        kind, _, resource_id = resource.partition("/")
        if arn_region != region:
            # Bedrock only serves resources of the region the request was sent to.
            raise validation(INVALID_IDENTIFIER)
        if kind == "foundation-model":
            fm = self.foundation_models.get(resource_id)
            if arn_account or fm is None:
                raise validation(INVALID_IDENTIFIER)
            return self._on_demand(fm, model_id, region)
        if arn_account != self.account:
            raise BedrockError("AccessDeniedException", NO_ACCESS)
        if kind == "inference-profile":
            profile = self.system_profiles.get(resource_id)
            if profile is None or region not in profile.sources:
                raise validation(INVALID_IDENTIFIER)
            return self._via_profile(profile, model_id, region)
        if kind == "application-inference-profile":
            profile = self.application_profiles.get(model_id)
            if profile is None:
                raise BedrockError("ResourceNotFoundException", f"Inference profile {model_id} not found.")
            return self._via_profile(profile, model_id, region)
        if kind == "provisioned-model":
            pt = self.provisioned.get(model_id)
            if pt is None:
                raise BedrockError("ResourceNotFoundException", f"Provisioned model {model_id} not found.")
            if pt.status not in ("InService", "Updating"):  # an Updating PT keeps serving
                raise validation(
                    f"The provisioned model {model_id} is not ready for inference (status: {pt.status})."
                )
            self._check_lifecycle(pt.base, region)
            return self._target("provisioned-model", model_id, pt.base, pt.arn)
        if kind == "custom-model-deployment":
            dep = self.deployments.get(model_id)
            if dep is None:
                raise BedrockError(
                    "ResourceNotFoundException", f"Custom model deployment {model_id} not found."
                )
            if dep.status != "Active":
                raise validation(
                    f"The custom model deployment {model_id} is not ready for inference "
                    f"(status: {dep.status})."
                )
            self._check_lifecycle(dep.custom_model.base, region)
            return self._target("custom-model-deployment", model_id, dep.custom_model.base, dep.arn)
        if kind == "imported-model":
            im = self.imported.get(model_id)
            if im is None:
                raise BedrockError("ResourceNotFoundException", f"Imported model {model_id} not found.")
            return Target(
                kind="imported-model",
                model_id=model_id,
                resolved_id=im.arn,
                formats=im.formats,
                streaming=im.streaming,
                model_name=im.name,
                resource_arn=im.arn,
            )
        if kind == "custom-model" and model_id in self.custom_models:
            raise validation(
                "A custom model can't be invoked directly. Invoke the ARN of its custom model deployment "
                "or of a Provisioned Throughput for it."
            )
        raise validation(INVALID_IDENTIFIER)

    def resolve_for_counting(self, model_id: str, region: str) -> Target:
        """CountTokens takes a base model ID even where on-demand invocation is not offered."""
        fm = self.find_foundation_model(model_id)
        if fm is not None:
            self._check_lifecycle(fm, region)
            return self._target("foundation-model", model_id, fm, fm.arn(region))
        return self.resolve(model_id, region)

    def _check_lifecycle(self, fm: FoundationModel, region: str) -> None:
        if self.is_retired(fm, region):
            raise end_of_life()

    def _on_demand(self, fm: FoundationModel, model_id: str, region: str) -> Target:
        self._check_lifecycle(fm, region)
        if "ON_DEMAND" not in fm.inference_types:
            raise validation(ON_DEMAND_UNSUPPORTED.format(model_id=fm.model_id))
        if fm.regions and region not in fm.regions:
            raise validation(INVALID_IDENTIFIER)
        return self._target("foundation-model", model_id, fm, fm.arn(region))

    def _via_profile(self, profile: InferenceProfile, model_id: str, region: str) -> Target:
        self._check_lifecycle(profile.model, region)
        kind = "inference-profile" if profile.type == "SYSTEM_DEFINED" else "application-inference-profile"
        return self._target(kind, model_id, profile.model, profile.arn(region))

    @staticmethod
    def _target(kind: str, model_id: str, fm: FoundationModel, arn: str) -> Target:
        return Target(
            kind=kind,
            model_id=model_id,
            resolved_id=fm.model_id,
            formats=fm.formats,
            streaming=fm.streaming,
            model_name=fm.model_id,
            resource_arn=arn,
            model=fm,
        )
