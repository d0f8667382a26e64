"""GitHub Actions workflows: actionlint-clean, CI runs `make test`, deploy uses OIDC per environment
with production behind its GitHub Environment (required reviewers)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def _actionlint() -> str | None:
    beside_python = Path(sys.executable).parent / "actionlint"
    return str(beside_python) if beside_python.exists() else shutil.which("actionlint")


def _load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def test_actionlint_passes():
    actionlint = _actionlint()
    if actionlint is None:
        pytest.skip("actionlint is not installed (requirements/dev.txt pins it)")
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert {Path(f).name for f in files} >= {"ci.yml", "deploy.yml"}
    result = subprocess.run([actionlint, "-no-color", *files], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_make_test_on_python_311():
    ci = _load("ci.yml")
    steps = ci["jobs"]["test"]["steps"]
    assert any(s.get("run") == "make test" for s in steps)
    setup = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "3.11" and setup["with"]["cache"] == "pip"
    assert ci["jobs"]["test"]["runs-on"].startswith("ubuntu")


def test_deploy_uses_oidc_per_environment_with_production_last():
    deploy = _load("deploy.yml")
    assert set(deploy["on"]) == {"push", "workflow_dispatch"}
    assert deploy["on"]["push"]["branches"] == ["main"]
    assert deploy["permissions"] == {"id-token": "write", "contents": "read"}
    jobs = deploy["jobs"]
    assert jobs["staging"]["environment"] == "staging" and jobs["staging"]["needs"] == "test"
    assert jobs["production"]["environment"] == "production" and jobs["production"]["needs"] == "staging"
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "aws-access-key-id" not in text and "secrets.AWS_" not in text
    for name in ("staging", "production"):
        steps = jobs[name]["steps"]
        credentials = next(
            s for s in steps if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")
        )
        assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
        runs = [s.get("run", "") for s in steps]
        assert "make setup" in runs
        deploy_step = next(r for r in runs if "make deploy" in r)
        assert "--require-approval never" in deploy_step and 'STAGE="$STAGE"' in deploy_step
        assert jobs[name]["env"]["STAGE"] == name
