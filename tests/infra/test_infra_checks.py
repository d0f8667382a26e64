"""Static checks on the synthesized templates: cdk-nag (AwsSolutions) and cfn-lint."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import ManualArgs, lint
from infra_helpers import AUTH_CONTEXTS

CONFIGS = {
    **AUTH_CONTEXTS,
    "production": {"stage": "production"},
    # customer managed KMS key for logs and queues, an alarm subscriber
    "hardened": {"stage": "staging", "kmsKey": "create", "alarmEmail": "oncall@example.com"},
    # SnapStart on every function, the authorizer included
    "snapStart": {"snapStart": "true", "auth": "key"},
}
#: CDK makes each function depend on its role explicitly as well as through Fn::GetAtt.
ACCEPTED_CFN_LINT_WARNINGS = {"W3005"}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def synth(request, synthesize):
    return synthesize(**CONFIGS[request.param])


def test_cdk_nag_reports_nothing_unacknowledged(synth):
    # Synth already failed if an error was left; run the pack again to catch warnings too.
    from cdk_nag import AwsSolutionsChecks

    result = AwsSolutionsChecks(verbose=True).validate_scope(synth.app)
    assert result.success, [v.rule_name for v in result.violations]
    report = json.loads((synth.assembly_dir / "validation-report.json").read_text())
    assert all(r.get("conclusion") != "failure" for r in report["pluginReports"]), report


def test_every_acknowledgment_is_justified(default_synth):
    acknowledged = {}
    for name, resource in default_synth.data["Resources"].items():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            acknowledged.setdefault(rule["id"], set()).add(name)
            assert len(rule["reason"]) >= 40, (name, rule)
    # The acknowledged findings, by rule; a new one must be argued for here too.
    assert {rule.split("[")[0] for rule in acknowledged} == {
        "AwsSolutions-IAM5",
        "AwsSolutions-IAM4",
        "AwsSolutions-APIG3",
        "AwsSolutions-COG4",
        "AwsSolutions-S1",
    }


def test_cfn_lint_finds_no_errors(synth):
    matches = lint(json.dumps(synth.data), config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    problems = [
        f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})"
        for m in matches
        if m.rule.id not in ACCEPTED_CFN_LINT_WARNINGS and not m.rule.id.startswith("I")
    ]
    assert problems == []


def test_an_unacknowledged_finding_fails_synth(tmp_path):
    """Proves the checks are wired in: a bare bucket must stop the synth."""
    from aws_cdk import aws_s3 as s3

    from infra.application import build_app

    app, stack = build_app({"skipAssetDeps": "true"}, outdir=str(tmp_path))
    s3.Bucket(stack, "UncheckedBucket")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (failed,) = [r for r in report["pluginReports"] if r["conclusion"] == "failure"]
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= {v["ruleName"] for v in failed["violations"]}


def test_app_py_fails_on_a_failed_report_when_cdk_does_not_raise(tmp_path, capsys):
    import app

    (tmp_path / "validation-report.json").write_text(
        json.dumps(
            {"pluginReports": [{"pluginName": "AwsSolutions", "conclusion": "failure", "violations": []}]}
        )
    )
    assert app.failed_validations(tmp_path) == ["AwsSolutions"]
    assert "validation failed" in capsys.readouterr().err
    (tmp_path / "validation-report.json").write_text(json.dumps({"pluginReports": []}))
    assert app.failed_validations(tmp_path) == []
