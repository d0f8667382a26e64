"""GitHub Actions workflows: clean under the standard actionlint, actions pinned to commit SHAs and kept
fresh by Dependabot, OIDC tokens only for the jobs that assume a role, CI on both Pythons through
`.ci/run`, and production deployed only after a reviewer has seen its diff."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
ACTIONLINT_PACKAGE = PROJECT_ROOT / "tools" / "actionlint" / "node_modules" / "@tktco" / "node-actionlint"
#: The Go module inside the package's main.wasm: rhysd/actionlint at this release, with the module hash
#: Go computes for it. The hash equals Go's h1 dirhash of the v1.7.7 tag of rhysd/actionlint, so the
#: linter is the upstream release, unmodified (tools/actionlint/README.md).
UPSTREAM_ACTIONLINT = b"github.com/rhysd/actionlint\tv1.7.7\th1:0KgkoNTrYY7vmOCs9BW2AHxLvvpoY9nEUzgBHiPUr0k="
PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^# v\d+\.\d+\.\d+$")
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials@"


def _load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def _workflow_files() -> list[Path]:
    files = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
    assert {f.name for f in files} >= {"ci.yml", "deploy.yml"}
    return files


def _actionlint(pattern: str) -> subprocess.CompletedProcess:
    cli = ACTIONLINT_PACKAGE / "bin" / "node-actionlint.js"
    if not cli.exists() or shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail("actionlint is missing: `make test` installs it (tools/actionlint)")
        pytest.skip("actionlint is not installed: `make setup` installs it (tools/actionlint)")
    return subprocess.run(
        ["node", str(cli), pattern],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, NO_COLOR="1", FORCE_COLOR="0"),
    )


def test_standard_actionlint_passes_on_every_workflow():
    count = len(_workflow_files())
    result = _actionlint(f"{WORKFLOWS}/*.{{yml,yaml}}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Checking {count} workflow file(s)" in result.stdout


def test_actionlint_reports_a_broken_workflow(tmp_path):
    """The check above can fail: a workflow with a typo'd permission and a missing job fails it."""
    (tmp_path / "broken.yml").write_text(
        "on: push\n"
        "permissions:\n  id-token: writ\n"
        "jobs:\n  a:\n    needs: missing\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n"
    )
    result = _actionlint(f"{tmp_path}/*.yml")
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"writ" is invalid' in result.stdout and 'needs job "missing"' in result.stdout


def test_actionlint_is_the_upstream_release():
    wasm = ACTIONLINT_PACKAGE / "main.wasm"
    if not wasm.exists():
        pytest.skip("actionlint is not installed: `make setup` installs it (tools/actionlint)")
    build_info = wasm.read_bytes()
    assert UPSTREAM_ACTIONLINT in build_info
    # No replace directive swapped the upstream module for other code.
    assert b"=>\tgithub.com/" not in build_info and b"=>\t./" not in build_info


def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version():
    found = []
    for path in _workflow_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)\s*(.*)$", line)
            if not match:
                continue
            target, comment = match.groups()
            where = f"{path.name}:{number}: {line.strip()}"
            found.append(where)
            if target.startswith("./"):
                continue  # a reusable workflow in this repository, at this commit
            assert PINNED_USES.match(target), where
            assert VERSION_COMMENT.match(comment), where
    assert len(found) >= 10


def test_only_jobs_that_assume_a_role_can_request_an_oidc_token():
    for name in ("ci.yml", "deploy.yml"):
        workflow = _load(name)
        assert workflow["permissions"] == {"contents": "read"}, name
        for job_name, job in workflow["jobs"].items():
            permissions = job.get("permissions", {})
            assumes_role = any(
                str(step.get("uses", "")).startswith(AWS_CREDENTIALS_ACTION) for step in job.get("steps", [])
            )
            assert (permissions.get("id-token") == "write") == assumes_role, (name, job_name)
            assert set(permissions) <= {"contents", "id-token"}, (name, job_name)
            if assumes_role:
                assert permissions["contents"] == "read", (name, job_name)
    assert "id-token" not in (WORKFLOWS / "ci.yml").read_text()


def test_checkouts_do_not_persist_the_token():
    for name in ("ci.yml", "deploy.yml"):
        for job_name, job in _load(name)["jobs"].items():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, (name, job_name)


def test_ci_runs_the_ci_entry_point_on_python_311_and_314():
    ci = _load("ci.yml")
    assert set(ci["on"]) == {"pull_request", "push", "workflow_call"}
    job = ci["jobs"]["test"]
    assert job["runs-on"].startswith("ubuntu")
    assert job["strategy"]["matrix"]["python-version"] == ["3.11", "3.14"]
    assert job["strategy"]["fail-fast"] is False
    steps = job["steps"]
    setup = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "${{ matrix.python-version }}"
    assert setup["with"]["cache"] == "pip"
    # .ci/run holds the guard against a run that executed no test; `make test` alone does not.
    assert any(s.get("run") == "bash .ci/run" for s in steps)
    assert not any("make test" in s.get("run", "") for s in steps)


def test_deploy_calls_ci_and_deploys_staging_then_production_with_oidc():
    deploy = _load("deploy.yml")
    assert set(deploy["on"]) == {"push", "workflow_dispatch"}
    assert deploy["on"]["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    # The reusable call passes nothing, and CI declares no inputs or secrets it would need.
    assert jobs["test"] == {"uses": "./.github/workflows/ci.yml"}
    assert _load("ci.yml")["on"]["workflow_call"] is None
    assert jobs["staging"]["environment"] == "staging" and jobs["staging"]["needs"] == "test"
    assert jobs["production-preview"]["needs"] == "staging"
    assert jobs["production"]["environment"] == "production"
    assert jobs["production"]["needs"] == "production-preview"
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "aws-access-key-id" not in text and "secrets.AWS_" not in text
    roles = {
        "staging": "${{ vars.AWS_DEPLOY_ROLE_ARN }}",
        "production-preview": "${{ vars.AWS_DIFF_ROLE_ARN }}",
        "production": "${{ vars.AWS_DEPLOY_ROLE_ARN }}",
    }
    for name, role in roles.items():
        steps = jobs[name]["steps"]
        credentials = next(s for s in steps if str(s.get("uses", "")).startswith(AWS_CREDENTIALS_ACTION))
        assert credentials["with"]["role-to-assume"] == role, name
        assert "make setup" in [s.get("run", "") for s in steps], name
        assert jobs[name]["env"]["STAGE"] == name.removesuffix("-preview")
    for name in ("staging", "production"):
        deploy_step = next(s["run"] for s in jobs[name]["steps"] if "make deploy" in s.get("run", ""))
        assert "--require-approval never" in deploy_step and 'STAGE="$STAGE"' in deploy_step


def test_production_approval_is_of_a_diff_and_deploys_what_was_diffed():
    jobs = _load("deploy.yml")["jobs"]
    preview, production = jobs["production-preview"], jobs["production"]
    # The preview must run before the approval, so not in the environment that waits for it.
    assert preview["environment"] != "production"
    preview_script = "\n".join(s.get("run", "") for s in preview["steps"])
    assert 'make diff STAGE="$STAGE"' in preview_script
    assert "--security-only" in preview_script
    assert '>> "$GITHUB_STEP_SUMMARY"' in preview_script
    assert "tar -cf cloud-assembly.tar cdk.out" in preview_script
    upload = next(
        s for s in preview["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")
    )
    download = next(
        s for s in production["steps"] if str(s.get("uses", "")).startswith("actions/download-artifact@")
    )
    assert upload["with"]["name"] == download["with"]["name"]
    assert "cloud-assembly.tar" in upload["with"]["path"]
    deploy_script = next(s["run"] for s in production["steps"] if "make deploy" in s.get("run", ""))
    assert "tar -xf cloud-assembly.tar" in deploy_script and "--app cdk.out" in deploy_script


def test_make_diff_is_read_only():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    (recipe,) = re.findall(r"^diff:.*\n\t(.*)$", makefile, re.MULTILINE)
    # "template" reads the deployed template through the lookup role; no change set is created.
    assert "$(CDK) diff" in recipe and "--method template" in recipe and "--no-version-reporting" in recipe


def test_dependabot_keeps_actions_python_and_node_tools_fresh():
    config = yaml.safe_load((PROJECT_ROOT / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    updates = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(updates) == {"github-actions", "pip", "npm"}
    assert updates["github-actions"]["directory"] == "/"
    npm_dirs = set(updates["npm"]["directories"])
    assert npm_dirs == {"/tools/cdk", "/tools/actionlint"}
    for directory in npm_dirs:
        assert (PROJECT_ROOT / directory.lstrip("/") / "package-lock.json").is_file(), directory
    for update in updates.values():
        assert update["schedule"]["interval"] in ("daily", "weekly")


def _make_diff(cdk_args: str) -> subprocess.CompletedProcess:
    if not (PROJECT_ROOT / "tools" / "cdk" / "node_modules" / ".bin" / "cdk").exists():
        if os.environ.get("CI"):
            pytest.fail("the CDK CLI is missing: `make test` installs it (tools/cdk)")
        pytest.skip("the CDK CLI is not installed: `make setup` installs it (tools/cdk)")
    return subprocess.run(
        ["make", "-s", "diff", f"CDK_ARGS={cdk_args}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_preview_shows_iam_changes_first(default_synth, tmp_path):
    """The preview job's two `make diff` runs, offline: a local template stands in for the deployed stack
    (`--template`), here one whose sync API cannot yet send jobs."""
    deployed = json.loads(json.dumps(default_synth.data))
    (policy,) = [
        p
        for name, p in deployed["Resources"].items()
        if p["Type"] == "AWS::IAM::Policy" and name.startswith("SyncApiHandlerRole")
    ]
    document = policy["Properties"]["PolicyDocument"]
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "EnqueueJobs"]
    deployed_file = tmp_path / "deployed.template.json"
    deployed_file.write_text(json.dumps(deployed))
    unchanged_file = tmp_path / "unchanged.template.json"
    unchanged_file.write_text(json.dumps(default_synth.data))
    assembly = tmp_path / "cdk.out"

    full = _make_diff(
        f"--context skipAssetDeps=true --output {assembly} --fail-on never --template {deployed_file}"
    )
    assert full.returncode == 0, full.stdout + full.stderr
    output = full.stdout + full.stderr
    # Each check names the output, so a failure shows what the CDK CLI printed.
    assert "IAM Statement Changes" in output and "Resources" in output, output
    assert output.index("IAM Statement Changes") < output.index("Resources"), output
    assert "sqs:SendMessage" in output, output
    security = _make_diff(f"--app {assembly} --security-only --fail-on never --template {deployed_file}")
    assert security.returncode == 0, security.stdout + security.stderr
    assert "IAM Statement Changes" in security.stdout + security.stderr, security.stdout + security.stderr
    # What the summary reports as "None.": nothing broadened.
    quiet = _make_diff(f"--app {assembly} --security-only --fail-on never --template {unchanged_file}")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "IAM Statement Changes" not in quiet.stdout + quiet.stderr, quiet.stdout + quiet.stderr
