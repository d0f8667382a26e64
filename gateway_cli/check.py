"""``targets check``: every target in the config against the account, one line per problem with a fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bedrock_gateway.core import catalog
from bedrock_gateway.core.model_ids import ModelKind
from bedrock_gateway.core.targets import Target, TargetsConfig

from .account import Account, end_of_life, geo_name, geo_serves, geo_sources, model_id_of

PROBLEM, WARNING = "problem", "warning"
#: The account IDs AWS's documentation (and this project's examples) use as placeholders.
PLACEHOLDER_ACCOUNTS = frozenset(
    {"123456789012", "111122223333", "444455556666", "777788889999", "000000000000"}
)


@dataclass
class Finding:
    level: str  # PROBLEM (exit 1) or WARNING
    message: str
    fix: str = ""

    def text(self) -> str:
        return f"{self.message}; {self.fix}" if self.fix else self.message


@dataclass
class Report:
    """What the account says about one target."""

    target: Target
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # status, model, streaming, lifecycle, ...

    def problem(self, message: str, fix: str = "") -> None:
        self.findings.append(Finding(PROBLEM, message, fix))

    def warning(self, message: str, fix: str = "") -> None:
        self.findings.append(Finding(WARNING, message, fix))

    @property
    def status(self) -> str:
        levels = {f.level for f in self.findings}
        return PROBLEM if PROBLEM in levels else WARNING if levels else "ok"

    def summary(self) -> str:
        """The facts of a clean target, e.g. ``ACTIVE, on demand, streams``."""
        parts = [self.facts.get("status") or self.facts.get("lifecycle"), self.facts.get("via")]
        parts = [p for p in parts if p]
        if self.facts.get("model") and self.facts["model"] != self.target.ref.foundation_model_id:
            parts.append(f"model {self.facts['model']}")
        streaming = self.facts.get("streaming")
        if streaming is not None:
            parts.append("streams" if streaming else "no streaming")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.target.name,
            "kind": str(self.target.kind),
            "model": self.target.model_id,
            "status": self.status,
            "facts": self.facts,
            "findings": [{"level": f.level, "message": f.message, "fix": f.fix} for f in self.findings],
        }


class Checker:
    """Checks targets against one account and region; lifecycle as of ``today`` (default: the real date)."""

    def __init__(self, account: Account, today: date | None = None):
        self.account = account
        self.region = account.region
        self.today = today

    def check_config(self, config: TargetsConfig) -> list[Report]:
        return [self.check(target) for target in config.targets.values()]

    def check(self, target: Target) -> Report:
        report = Report(target)
        ref = target.ref
        placeholders = sorted(_placeholder_accounts(target))
        if placeholders:
            report.problem(
                f"account {', '.join(placeholders)} in the target's ARNs is a placeholder from the examples",
                "replace it with your own account's resource ARNs (or remove the target)",
            )
            return report
        if ref.foundation_model_id and self._end_of_life(ref.foundation_model_id, report):
            return report
        if ref.is_arn and ref.region and ref.region != self.region:
            report.problem(
                f"{ref.kind} ARN {ref.raw} is in {ref.region}, but the region being checked is {self.region}",
                f"use the {self.region} ARN of the resource, or check {ref.region} with "
                f"--region {ref.region}",
            )
            return report
        check_kind = {
            ModelKind.FOUNDATION_MODEL: self._foundation_model,
            ModelKind.INFERENCE_PROFILE: self._system_profile,
            ModelKind.APPLICATION_INFERENCE_PROFILE: self._application_profile,
            ModelKind.PROVISIONED_THROUGHPUT: self._provisioned,
            ModelKind.CUSTOM_MODEL_DEPLOYMENT: self._deployment,
            ModelKind.IMPORTED_MODEL: self._imported,
        }[ref.kind]
        model_id = check_kind(target, report)
        if model_id:
            report.facts.setdefault("model", model_id)
            self._model(target, report, model_id)
        return report

    def _foundation_model(self, target: Target, report: Report) -> str | None:
        model_id = target.ref.resource_id
        model = self.account.foundation_models.get(model_id)
        if model is None:
            report.problem(
                f"model {model_id} is not offered in {self.region} (ListFoundationModels)",
                "pick a model ID listed by `targets models`, or check another region with --region",
            )
            return None
        types = model.get("inferenceTypesSupported", [])
        if "ON_DEMAND" in types:
            report.facts["via"] = "on demand"
            return model_id
        profile = self.account.system_profile_for(model_id)
        if profile:
            fix = f"use inference profile {profile} (found with ListInferenceProfiles)"
        elif "PROVISIONED" in types:
            fix = "no inference profile here contains it: buy provisioned throughput and use its ARN"
        else:
            fix = f"no inference profile in {self.region} contains it: use a region whose profiles do"
        report.problem(f"model {model_id} can't be invoked on demand", fix)
        return model_id

    def _system_profile(self, target: Target, report: Report) -> str | None:
        ref, model_id = target.ref, target.ref.foundation_model_id or ""
        if not geo_serves(ref.geo or "", self.region):
            alternative = self.account.system_profile_for(model_id)
            sources = catalog.profile_source_regions(ref.resource_id) or geo_sources(ref.geo or "")
            report.problem(
                f"{ref.geo}. inference profile {ref.resource_id} is for {geo_name(ref.geo or '')} regions, "
                f"but the region being checked is {self.region}",
                f"use inference profile {alternative}"
                if alternative
                else f"call it from one of {', '.join(sources)} (--region), or pick one from `targets profiles`",
            )
            return model_id
        profile = next(
            (
                p
                for p in self.account.profiles("SYSTEM_DEFINED")
                if p["inferenceProfileId"] == ref.resource_id
            ),
            None,
        )
        if profile is None:
            alternative = self.account.system_profile_for(model_id)
            report.problem(
                f"inference profile {ref.resource_id} does not exist in {self.region} "
                "(ListInferenceProfiles)",
                f"use inference profile {alternative}"
                if alternative
                else "pick a profile from `targets profiles`",
            )
            return model_id
        self._profile(target, report, profile)
        return model_id

    def _application_profile(self, target: Target, report: Report) -> str | None:
        profile = self.account.profile(target.model_id)
        if profile is None:
            report.problem(
                f"application inference profile {target.model_id} does not exist in {self.region}",
                "fix the ARN (`targets profiles --type APPLICATION` lists them) or create it with "
                "CreateInferenceProfile",
            )
            return None
        self._profile(target, report, profile)
        models = profile.get("models", [])
        return model_id_of(models[0]["modelArn"]) if models else None

    def _profile(self, target: Target, report: Report, profile: dict[str, Any]) -> None:
        status = profile.get("status", "ACTIVE")
        report.facts["status"] = status
        report.facts["arn"] = profile.get("inferenceProfileArn")
        if status != "ACTIVE":
            report.problem(
                f"inference profile {target.model_id} is {status}, not ACTIVE", "wait or pick another"
            )
        routes = [m["modelArn"] for m in profile.get("models", [])]
        report.facts["routesTo"] = routes
        if target.models:
            for arn in (a for a in routes if a not in target.models):
                report.problem(
                    f"the profile routes to {arn}, which `models` does not list (IAM would deny those calls)",
                    f"add {arn!r} to models",
                )
            for arn in (a for a in target.models if a not in routes):
                report.problem(
                    f"`models` lists {arn}, which the profile does not route to",
                    f"remove {arn!r} from models",
                )
        elif target.kind is ModelKind.INFERENCE_PROFILE:
            allowed = set(target.iam_invoke_resources(self.region, "000000000000")[1:])
            missing = [a for a in routes if a not in allowed and _any_region(a) not in allowed]
            if missing:
                report.warning(
                    f"the profile also routes to {', '.join(missing)}, which IAM derived from the catalog's "
                    "Regions for this profile does not allow",
                    f"state models = {routes} in the target",
                )

    def _provisioned(self, target: Target, report: Report) -> str | None:
        pt = self.account.provisioned_throughput(target.model_id)
        if pt is None:
            report.problem(
                f"provisioned throughput {target.model_id} does not exist in {self.region}",
                "fix the ARN (`targets provisioned` lists them)",
            )
            return None
        status, name = pt.get("status", "?"), pt.get("provisionedModelName", target.model_id)
        report.facts["status"] = status
        if status == "Updating":
            report.warning(
                f"provisioned throughput {name} is Updating", "it serves meanwhile; recheck when InService"
            )
        elif status != "InService":
            reason = f" ({pt['failureMessage']})" if pt.get("failureMessage") else ""
            fix = {
                "Creating": "wait until `targets provisioned` shows it InService before deploying",
                "Failed": "recreate it, or point the target at an InService one (`targets provisioned`)",
            }.get(status, "point the target at an InService throughput (`targets provisioned`)")
            report.problem(f"provisioned throughput {name} is {status}, not InService{reason}", fix)
        base = pt.get("foundationModelArn")
        return model_id_of(base) if base else None

    def _deployment(self, target: Target, report: Report) -> str | None:
        deployment = self.account.deployment(target.model_id)
        if deployment is None:
            report.problem(
                f"custom model deployment {target.model_id} does not exist in {self.region}", "fix the ARN"
            )
            return None
        report.facts["status"] = status = deployment.get("status", "?")
        if status != "Active":
            report.problem(
                f"custom model deployment {target.model_id} is {status}, not Active", "wait until Active"
            )
        custom = self.account.custom_model(deployment["modelArn"]) if deployment.get("modelArn") else None
        base = (custom or {}).get("baseModelArn")
        return model_id_of(base) if base else None

    def _imported(self, target: Target, report: Report) -> str | None:
        imported = self.account.imported_model(target.model_id)
        if imported is None:
            report.problem(f"imported model {target.model_id} does not exist in {self.region}", "fix the ARN")
        else:
            report.facts["architecture"] = imported.get("modelArchitecture")
        return None

    def _end_of_life(self, model_id: str, report: Report) -> bool:
        """A problem, and True, when the catalog says ``model_id`` has reached its end of life here."""
        dates = catalog.lifecycle(model_id, self.region, self.today)
        if not dates or dates["status"] != catalog.EOL:
            return False
        report.facts["lifecycle"] = catalog.EOL
        when = f" on {dates['endOfLife']}" if dates.get("endOfLife") else ""
        report.problem(
            f"model {model_id} reached its end of life{when}: Bedrock answers ResourceNotFoundException "
            '("This model version has reached the end of its life")',
            "move the target to a current model (`targets models` lists them; "
            "`targets explain <model> --live` names the inference profile a model needs)",
        )
        return True

    def _model(self, target: Target, report: Report, model_id: str) -> None:
        """Lifecycle and streaming of the foundation model behind the target."""
        if self._end_of_life(model_id, report):
            return
        model = self.account.foundation_model(model_id)
        if model is None:
            return
        lifecycle = model.get("modelLifecycle", {}).get("status", catalog.ACTIVE)
        dates = catalog.lifecycle(model_id, self.region, self.today) or {}
        if catalog.LEGACY in (lifecycle, dates.get("status")):
            lifecycle = catalog.LEGACY
            end = report.facts["endOfLife"] = end_of_life(model, model_id, self.region, self.today)
            report.warning(
                f"model {model_id} is LEGACY: "
                + (f"end of life on {end}" if end else "its end-of-life date is not published yet"),
                "plan a move to a current model before then (`targets models` lists them)",
            )
        elif lifecycle != catalog.ACTIVE:
            report.problem(f"model {model_id} is {lifecycle}", "move the target to an ACTIVE model")
        report.facts["lifecycle"] = lifecycle
        streams = model.get("responseStreamingSupported")
        report.facts["streaming"] = streams if target.streaming is None else target.streaming
        if streams is None or target.streaming is None or target.streaming == streams:
            return
        if target.streaming:
            report.problem(
                f"streaming = true, but {model_id} can't stream (responseStreamingSupported is false)",
                "set streaming = false or remove it "
                "(/stream then sends one InvokeModel answer as a single chunk)",
            )
        else:
            report.warning(
                f"streaming = false, but {model_id} can stream: /stream sends its answer as one chunk",
                "remove streaming = false to stream chunk by chunk",
            )


def _placeholder_accounts(target: Target) -> set[str]:
    """Placeholder account IDs in the target's ARNs (model, ``models``, guardrail)."""
    arns = [target.model_id, *target.models, target.guardrail.id if target.guardrail else ""]
    accounts = {arn.split(":")[4] for arn in arns if arn.startswith("arn:") and arn.count(":") >= 5}
    return accounts & PLACEHOLDER_ACCOUNTS


def _any_region(arn: str) -> str:
    """The Region-less form of a foundation-model ARN, which IAM grants for ``global.`` profiles."""
    parts = arn.split(":")
    return ":".join([*parts[:3], "", *parts[4:]]) if len(parts) >= 6 else arn
