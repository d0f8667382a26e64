"""cdk-nag (v3) wiring: the AwsSolutions pack as a CDK validation plugin, and justified acknowledgments.

cdk-nag 3 runs through CDK's policy-validation framework (``Validations.of(app).add_plugins``), not
Aspects: an unacknowledged error fails ``cdk synth`` (and ``app.synth()`` raises in tests). Every
acknowledgment carries its reason here in code and is also written into the template metadata.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_aws_solutions_checks(app: App) -> AwsSolutionsChecks:
    pack = AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    Validations.of(app).add_plugins(pack)
    return pack


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept finding ``rule`` (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope`` and below."""
    if len(reason.strip()) < 20:
        raise ValueError(f"acknowledging {rule} needs a real reason, got {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
