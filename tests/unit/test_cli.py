"""The targets CLI without AWS: ``explain`` on every identifier kind, output, errors, the control-plane
client's region and credentials, and ``check`` logic against an in-memory control plane."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from bedrock_gateway.core import bedrock
from bedrock_gateway.core.model_ids import parse_model_id
from bedrock_gateway.core.targets import Target, parse_targets
from botocore.exceptions import ClientError

from gateway_cli import account as account_mod
from gateway_cli import main
from gateway_cli.account import Account, control_client, geo_serves
from gateway_cli.check import PROBLEM, WARNING, Checker, Finding
from gateway_cli.explain import explain
from gateway_cli.output import table

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "210987654321"  # an account of one's own: not one of AWS's documentation placeholders
PLACEHOLDER = "123456789012"
#: The day lifecycle is judged on in ``check`` tests (the catalog's dates move models from Active to EOL).
CATALOG_DAY = date(2026, 11, 30)
SONNET = "anthropic.claude-sonnet-4-6"  # INFERENCE_PROFILE only
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"  # INFERENCE_PROFILE only
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"  # Legacy from 2026-10-08, EOL 2027-04-08
NOVA = "amazon.nova-pro-v1:0"  # ON_DEMAND
TITAN = "amazon.titan-text-express-v1"  # Legacy, no EOL date published
EMBED = "amazon.titan-embed-text-v2:0"  # cannot stream
EOL_SUFFIX = (
    ': Bedrock answers ResourceNotFoundException ("This model version has reached the end of its life"); '
    "move the target to a current model (`targets models` lists them; `targets explain <model> --live` "
    "names the inference profile a model needs)"
)
LEGACY_FIX = "; plan a move to a current model before then (`targets models` lists them)"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def fm_arn(model_id: str, region: str = "us-east-1") -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


# ---- explain, offline ----

EXPLAIN_CASES = {
    "base model ID": (
        NOVA,
        dict(kind="foundation-model", form="ID", region=None, account=None, foundationModel=NOVA),
        [fm_arn(NOVA)],
    ),
    "base model ARN": (
        fm_arn(NOVA, "us-west-2"),
        dict(kind="foundation-model", form="ARN", region="us-west-2", account=None, foundationModel=NOVA),
        [fm_arn(NOVA, "us-west-2")],
    ),
    "system profile ID": (
        f"us.{SONNET}",
        dict(
            kind="inference-profile",
            form="ID",
            geo="us",
            foundationModel=SONNET,
            routesTo=["us-east-1", "us-east-2", "us-west-2"],  # from us-east-1, per the catalog
        ),
        [
            f"arn:aws:bedrock:us-east-1:<account>:inference-profile/us.{SONNET}",
            fm_arn(SONNET),
            fm_arn(SONNET, "us-east-2"),
            fm_arn(SONNET, "us-west-2"),
            fm_arn(SONNET, "us-west-1"),  # a destination from us-west-1: IAM does not know the caller's
        ],
    ),
    "global profile ID": (
        f"global.{SONNET}",
        dict(kind="inference-profile", form="ID", geo="global", foundationModel=SONNET),
        [
            f"arn:aws:bedrock:us-east-1:<account>:inference-profile/global.{SONNET}",
            fm_arn(SONNET),
            f"arn:aws:bedrock:::foundation-model/{SONNET}",
        ],
    ),
    "Japan profile ID": (
        f"jp.{SONNET}",
        dict(
            kind="inference-profile",
            form="ID",
            geo="jp",
            foundationModel=SONNET,
            routesTo=["ap-northeast-1", "ap-northeast-3"],
        ),
        [
            f"arn:aws:bedrock:us-east-1:<account>:inference-profile/jp.{SONNET}",
            fm_arn(SONNET),
            fm_arn(SONNET, "ap-northeast-1"),
            fm_arn(SONNET, "ap-northeast-3"),
        ],
    ),
    "system profile ARN": (
        f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/eu.{SONNET}",
        dict(
            kind="inference-profile",
            form="ARN",
            region="eu-west-1",
            account=ACCOUNT,
            geo="eu",
            foundationModel=SONNET,
            routesTo=["eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"],
        ),
        [
            f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/eu.{SONNET}",
            fm_arn(SONNET, "eu-west-1"),  # the source region first
            *(
                fm_arn(SONNET, region)
                for region in ("eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-3")
            ),
            fm_arn(SONNET, "eu-west-2"),
            fm_arn(SONNET, "eu-central-2"),
        ],
    ),
    "application profile ARN": (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/a1b2c3d4e5f6",
        dict(
            kind="application-inference-profile",
            form="ARN",
            region="us-east-1",
            account=ACCOUNT,
            foundationModel=None,
        ),
        [
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/a1b2c3d4e5f6",
            "+ the foundation-model ARNs it routes to (state `models` in config; --live lists them)",
        ],
    ),
    "provisioned throughput ARN": (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/abcdefghij12",
        dict(
            kind="provisioned-throughput",
            form="ARN",
            region="us-east-1",
            account=ACCOUNT,
            foundationModel=None,
        ),
        [f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/abcdefghij12"],
    ),
    "custom model deployment ARN": (
        f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model-deployment/d3pl0ym3nt01",
        dict(
            kind="custom-model-deployment",
            form="ARN",
            region="us-west-2",
            account=ACCOUNT,
            foundationModel=None,
        ),
        [f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model-deployment/d3pl0ym3nt01"],
    ),
    "imported model ARN": (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:imported-model/1mp0rt3dl1am",
        dict(kind="imported-model", form="ARN", region="us-east-1", account=ACCOUNT, foundationModel=None),
        [f"arn:aws:bedrock:us-east-1:{ACCOUNT}:imported-model/1mp0rt3dl1am"],
    ),
}


@pytest.mark.parametrize("identifier, expected, resources", EXPLAIN_CASES.values(), ids=EXPLAIN_CASES)
def test_explain_every_kind(identifier, expected, resources):
    info = explain(parse_model_id(identifier), region="us-east-1")
    assert {key: info[key] for key in expected} == expected
    assert info["identifier"] == identifier
    assert info["iamResources"] == resources
    assert info["iamActions"] == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    assert identifier in info["invoke"]
    assert info["foundationModel"] or info["foundationModelNote"]  # named, or said how it is resolved


@pytest.mark.parametrize("identifier, expected, resources", EXPLAIN_CASES.values(), ids=EXPLAIN_CASES)
def test_explain_command_prints_table_and_json(capsys, monkeypatch, identifier, expected, resources):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    code, out, err = run(capsys, "targets", "explain", identifier)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"identifier {identifier}"
    assert f"kind       {expected['kind']} ({expected['form']})" in lines
    assert (
        lines[-len(resources) - 1]
        == "iam        bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream on:"
    )
    assert [line.strip() for line in lines[-len(resources) :]] == resources

    code, out, _ = run(capsys, "targets", "explain", identifier, "--json")
    assert code == 0
    assert json.loads(out)["kind"] == expected["kind"]


def test_explain_says_how_each_kind_is_invoked():
    invoke = {
        NOVA: "called from the caller's region",
        f"us.{SONNET}": "called from a US region",
        f"eu.{SONNET}": "called from an EU region",
        f"jp.{SONNET}": "called from a Japan region",
        f"au.{SONNET}": "called from an Australia region",
        f"global.{SONNET}": "called from any commercial region",
        f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:provisioned-model/abcdefghij12": "called from eu-west-1",
    }
    for identifier, where in invoke.items():
        assert explain(parse_model_id(identifier))["invoke"].endswith(where)
    assert (
        "hidden"
        in explain(parse_model_id(EXPLAIN_CASES["application profile ARN"][0]))["foundationModelNote"]
    )
    assert "InService" in explain(parse_model_id(EXPLAIN_CASES["provisioned throughput ARN"][0]))["requires"]


def test_explain_placeholders_without_region(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    info = explain(parse_model_id(NOVA))
    assert info["iamResources"] == [f"arn:aws:bedrock:<region>::foundation-model/{NOVA}"]


INVALID = {
    "empty": ("", "empty"),
    "whitespace": (f" {NOVA}", "whitespace"),
    "no dot": ("nodot", "not a Bedrock model identifier"),
    "custom model ARN": (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/{TITAN}/c0ffee123456",
        "custom model ARN, which cannot be invoked directly",
    ),
    "unknown resource type": (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:agent/ABCDEFGHIJ",
        "resource type 'agent'",
    ),
    "not bedrock": ("arn:aws:s3:::bucket/key", "not a Bedrock ARN"),
    "provisioned without account": (
        "arn:aws:bedrock:us-east-1::provisioned-model/abcdefghij12",
        "12-digit account",
    ),
    "foundation model with account": (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:foundation-model/{NOVA}",
        "empty account field",
    ),
    "malformed provisioned ID": (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/ABC", "malformed"),
    "profile ARN without geo": (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/{SONNET}",
        "not a system inference profile ID",
    ),
}


@pytest.mark.parametrize("identifier, message", INVALID.values(), ids=INVALID)
def test_explain_invalid_ids_exit_2_with_parse_error(capsys, identifier, message):
    code, out, err = run(capsys, "targets", "explain", identifier)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_explain_a_configured_target_uses_its_models(capsys):
    examples = str(ROOT / "config" / "examples" / "account-resources.toml")
    code, out, _ = run(capsys, "targets", "explain", "team-a", "--config", examples)
    assert code == 0
    assert out.splitlines()[0] == "target     team-a"
    assert f"model      {SONNET} (per the target's `models`)" in out.splitlines()
    assert out.rstrip().endswith(fm_arn(SONNET, "us-west-2"))


def test_explain_unknown_name_lists_the_targets(capsys, monkeypatch):
    monkeypatch.delenv("TARGETS_FILE", raising=False)  # the default config
    code, _, err = run(capsys, "targets", "explain", "nosuch")
    assert code == 2
    assert "'nosuch' is not a target in" in err
    assert "(have: claude, haiku, nova, llama, mistral, embed)" in err  # config/targets.toml


# ---- output and arguments ----


def test_table_aligns_columns_without_trailing_padding():
    assert table(["A", "LONGER", "C"], [["xx", "y", "last"], ["x", "yyyyyyy", "z"]]) == [
        "A   LONGER   C",
        "xx  y        last",
        "x   yyyyyyy  z",
    ]


def test_finding_text_joins_message_and_fix():
    assert Finding(PROBLEM, "model X can't be invoked on demand", "use inference profile us.X").text() == (
        "model X can't be invoked on demand; use inference profile us.X"
    )
    assert Finding(WARNING, "just this").text() == "just this"


def test_common_options_before_or_after_the_command(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[targets.x]\nmodel = "nope"\n')
    for argv in (["targets", "--config", str(bad), "check"], ["targets", "check", "--config", str(bad)]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == ""
        assert (
            err
            == f"error: {bad}: target 'x': model 'nope' is invalid: 'nope' is not a Bedrock model identifier: "
            "expected a base model ID like 'amazon.nova-pro-v1:0', an inference profile ID like "
            "'us.anthropic.claude-haiku-4-5-20251001-v1:0', or a Bedrock ARN\n"
        )


def test_config_from_targets_file_env(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("TARGETS_FILE", str(tmp_path / "missing.toml"))
    code, _, err = run(capsys, "targets", "check")
    assert code == 2 and "missing.toml: cannot read targets config" in err


def test_no_command_prints_help(capsys):
    assert main(["targets"]) == 2
    assert "check every target against the account" in capsys.readouterr().err


def test_missing_region_is_one_line(capsys, monkeypatch, tmp_path):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    bedrock.reset()
    try:
        code, _, err = run(capsys, "targets", "models")
    finally:
        bedrock.reset()
    assert code == 2 and err == "error: no AWS region configured: pass --region or set AWS_REGION\n"


def test_access_denied_is_one_line(capsys, monkeypatch):
    import boto3
    from botocore.stub import Stubber

    client = boto3.client(
        "bedrock", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    stubber = Stubber(client)
    stubber.add_client_error("list_foundation_models", "AccessDeniedException", "User is not authorized", 403)
    monkeypatch.setattr(account_mod, "control_client", lambda region=None: client)
    with stubber:
        code, out, err = run(capsys, "targets", "models")
    assert code == 2 and out == ""
    assert err == "error: ListFoundationModels failed: AccessDeniedException: User is not authorized\n"


def test_profiles_use_the_paginator_for_both_types():
    import boto3
    from botocore.stub import Stubber

    client = boto3.client(
        "bedrock", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    stubber = Stubber(client)
    pages = [
        ({"typeEquals": "SYSTEM_DEFINED"}, [profile(f"us.{SONNET}", SONNET)], "t1"),
        ({"typeEquals": "SYSTEM_DEFINED", "nextToken": "t1"}, [profile(f"us.{HAIKU}", HAIKU)], None),
        ({"typeEquals": "APPLICATION"}, [profile("a1b2c3d4e5f6", SONNET, kind="APPLICATION")], None),
    ]
    for params, items, token in pages:
        response = {"inferenceProfileSummaries": items, **({"nextToken": token} if token else {})}
        stubber.add_response("list_inference_profiles", response, params)
    with stubber:
        ids = [p["inferenceProfileId"] for p in Account(client).profiles()]
    assert ids == [f"us.{SONNET}", f"us.{HAIKU}", "a1b2c3d4e5f6"]
    stubber.assert_no_pending_responses()


def test_importing_the_cli_does_not_import_boto3():
    code = "import sys, gateway_cli; assert not {'boto3', 'botocore'} & set(sys.modules), sys.modules.keys()"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "lambda_src"))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_runs_as_a_module():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "lambda_src"))
    done = subprocess.run(
        [sys.executable, "-m", "gateway_cli", "targets", "explain", NOVA, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["kind"] == "foundation-model"


# ---- the control-plane client: region and credentials ----


@pytest.fixture
def no_aws_config(monkeypatch, tmp_path):
    """No AWS region, credentials or endpoint from the environment or ~/.aws (and no instance metadata)."""
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL_BEDROCK",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def test_control_client_region_option_then_aws_region_then_aws_default_region(no_aws_config):
    no_aws_config.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert control_client().meta.region_name == "us-west-2"
    no_aws_config.setenv("AWS_REGION", "eu-west-1")
    assert control_client().meta.region_name == "eu-west-1"
    assert control_client("ap-northeast-1").meta.region_name == "ap-northeast-1"


def test_control_client_signs_offline_with_the_emulator_endpoint_alone(no_aws_config):
    no_aws_config.setenv("AWS_REGION", "us-east-1")
    assert control_client()._request_signer._credentials is None  # real AWS: no credentials, no guess
    no_aws_config.setenv("AWS_ENDPOINT_URL_BEDROCK", "http://127.0.0.1:9")
    offline = control_client()
    assert offline.meta.endpoint_url == "http://127.0.0.1:9"
    assert offline._request_signer._credentials.access_key == "offline"
    # Configured credentials are never replaced, endpoint or not.
    no_aws_config.setenv("AWS_ACCESS_KEY_ID", "AKIDREALKEY")
    no_aws_config.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert control_client()._request_signer._credentials.access_key == "AKIDREALKEY"


@pytest.fixture
def signing_region(no_aws_config):
    """An AWS endpoint on this machine that notes the region each request is signed for (SigV4's
    credential scope) and answers as CloudFormation does for a stack that does not exist."""
    import http.server
    import re
    import threading

    regions: list[str] = []

    class Endpoint(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            scope = re.search(r"Credential=[^/]+/\d{8}/([^/]+)/", self.headers.get("Authorization", ""))
            regions.append(scope[1] if scope else "")
            body = (
                b"<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code>"
                b"<Message>Stack with id Gateway does not exist</Message></Error></ErrorResponse>"
            )
            self.send_response(400)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    no_aws_config.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    no_aws_config.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    no_aws_config.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    yield regions
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "command",
    [("keys", "list", "--stack", "Gateway"), ("usage", "--stack", "Gateway")],
    ids=["keys", "usage"],
)
def test_keys_and_usage_on_a_stack_call_aws_in_the_region_option_then_aws_region_then_aws_default_region(
    capsys, signing_region, no_aws_config, command
):
    def called() -> None:
        code, _, err = run(capsys, *command, *options)
        assert code == 2 and "Stack with id Gateway does not exist" in err, err

    options: tuple[str, ...] = ()
    no_aws_config.setenv("AWS_REGION", "eu-west-1")  # alone: boto3 itself reads only AWS_DEFAULT_REGION
    called()
    no_aws_config.setenv("AWS_DEFAULT_REGION", "us-west-2")
    called()
    options = ("--region", "ap-northeast-1")
    called()
    options = ()
    no_aws_config.delenv("AWS_REGION")
    called()
    assert signing_region == ["eu-west-1", "eu-west-1", "ap-northeast-1", "us-west-2"]


def test_one_region_for_every_command(no_aws_config):
    from gateway_cli import aws

    assert aws.region() is None  # left to the AWS profile
    no_aws_config.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert aws.region() == "us-west-2"
    no_aws_config.setenv("AWS_REGION", "eu-west-1")
    assert aws.region() == aws.session().region_name == "eu-west-1"
    assert explain(parse_model_id(NOVA))["iamResources"][0].startswith("arn:aws:bedrock:eu-west-1:")
    assert aws.region("ap-northeast-1") == "ap-northeast-1"


# ---- the deploy workflow ----


def test_deploy_checks_the_targets_against_the_account_before_each_cdk_deploy():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    for name in ("staging", "production"):
        runs = [str(step.get("run", step.get("uses", ""))) for step in workflow["jobs"][name]["steps"]]
        check = runs.index("make targets ARGS=check")
        credentials = next(
            i for i, r in enumerate(runs) if r.startswith("aws-actions/configure-aws-credentials@")
        )
        deploy = next(i for i, r in enumerate(runs) if "make deploy" in r)
        assert credentials < runs.index("make setup") < check < deploy, name


# ---- check, against an in-memory control plane ----


def profile(
    pid: str,
    model: str,
    regions=("us-east-1", "us-east-2", "us-west-2"),
    kind="SYSTEM_DEFINED",
    status="ACTIVE",
    home="us-east-1",
) -> dict:
    resource = "inference-profile" if kind == "SYSTEM_DEFINED" else "application-inference-profile"
    return {
        "inferenceProfileName": pid,
        "inferenceProfileId": pid,
        "type": kind,
        "status": status,
        "inferenceProfileArn": f"arn:aws:bedrock:{home}:{ACCOUNT}:{resource}/{pid}",
        "models": [{"modelArn": fm_arn(model, r)} for r in regions],
    }


def model(model_id: str, types=("ON_DEMAND",), streaming=True, lifecycle="ACTIVE", end_of_life=None) -> dict:
    """A FoundationModelSummary as boto3 returns it (timestamps parsed)."""
    model_lifecycle = {"status": lifecycle}
    if end_of_life:
        model_lifecycle["endOfLifeTime"] = datetime.combine(end_of_life, datetime.min.time(), UTC)
    return {
        "modelId": model_id,
        "inferenceTypesSupported": list(types),
        "responseStreamingSupported": streaming,
        "modelLifecycle": model_lifecycle,
    }


class FakeBedrock:
    """Just enough of the ``bedrock`` client, with nextToken paging (no boto3 paginators)."""

    def __init__(self, region="us-east-1", models=(), profiles=(), throughputs=()):
        self.meta = SimpleNamespace(region_name=region)
        self.models, self.profile_list, self.throughputs = list(models), list(profiles), list(throughputs)
        self.calls: list[str] = []

    def can_paginate(self, operation):
        return False

    @staticmethod
    def _missing(operation):
        return ClientError(
            {"Error": {"Code": "ResourceNotFoundException", "Message": "not found"}}, operation
        )

    def list_foundation_models(self):
        self.calls.append("ListFoundationModels")
        return {"modelSummaries": self.models}

    def get_foundation_model(self, modelIdentifier):
        self.calls.append("GetFoundationModel")
        for m in self.models:
            if m["modelId"] == modelIdentifier:
                return {"modelDetails": m}
        raise self._missing("GetFoundationModel")

    def list_inference_profiles(self, typeEquals, nextToken="0"):
        self.calls.append(f"ListInferenceProfiles {typeEquals} {nextToken}")
        items = [p for p in self.profile_list if p["type"] == typeEquals]
        start = int(nextToken)
        page = {"inferenceProfileSummaries": items[start : start + 1]}
        if start + 1 < len(items):
            page["nextToken"] = str(start + 1)
        return page

    def get_inference_profile(self, inferenceProfileIdentifier):
        self.calls.append("GetInferenceProfile")
        for p in self.profile_list:
            if inferenceProfileIdentifier in (p["inferenceProfileId"], p["inferenceProfileArn"]):
                return p
        raise self._missing("GetInferenceProfile")

    def get_provisioned_model_throughput(self, provisionedModelId):
        self.calls.append("GetProvisionedModelThroughput")
        for pt in self.throughputs:
            if pt["provisionedModelArn"] == provisionedModelId:
                return pt
        raise self._missing("GetProvisionedModelThroughput")


US_ACCOUNT = dict(
    models=[
        model(NOVA, types=("ON_DEMAND", "INFERENCE_PROFILE")),
        model(SONNET, types=("INFERENCE_PROFILE",)),
        model(HAIKU, types=("INFERENCE_PROFILE",)),
        model(SONNET_45, types=("INFERENCE_PROFILE",), lifecycle="LEGACY", end_of_life=date(2027, 4, 8)),
        model(TITAN, lifecycle="LEGACY"),
        model(EMBED, streaming=False),
        model("old.model-v1", lifecycle="EOL"),  # a model the catalog does not know
    ],
    profiles=[
        profile(f"us.{HAIKU}", HAIKU),
        profile(f"global.{SONNET}", SONNET, regions=("us-east-1", "eu-west-1", "ap-southeast-2")),
        profile(f"us.{SONNET}", SONNET),
        profile(f"us.{SONNET_45}", SONNET_45),
        profile("app1", SONNET, regions=("us-east-1",), kind="APPLICATION"),
    ],
    throughputs=[
        {
            "provisionedModelArn": f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/{pid}",
            "provisionedModelName": name,
            "status": status,
            "foundationModelArn": fm_arn(base),
        }
        for pid, name, status, base in [
            ("inservice001", "pt-ok", "InService", NOVA),
            ("updating0001", "pt-upd", "Updating", NOVA),
            ("creating0001", "pt-new", "Creating", NOVA),
            ("r3t1r3dpt001", "pt-retired", "InService", "anthropic.claude-3-haiku-20240307-v1:0"),
        ]
    ],
)


def check(
    toml: str, region: str = "us-east-1", today: date = CATALOG_DAY, **account
) -> list[tuple[str, str]]:
    target = next(iter(parse_targets(toml).targets.values()))
    client = FakeBedrock(region=region, **(account or US_ACCOUNT))
    return [(f.level, f.text()) for f in Checker(Account(client), today).check(target).findings]


def t(model_id: str, extra: str = "") -> str:
    return f'[targets.t]\nmodel = "{model_id}"\n{extra}'


def test_check_clean_targets_have_no_findings():
    assert check(t(NOVA)) == []
    assert check(t(f"us.{HAIKU}")) == []
    assert check(t(f"us.{SONNET}")) == []
    assert (
        check(t(f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/inservice001", "streaming = true"))
        == []
    )


def test_check_global_profile_routing_anywhere_is_covered_by_the_regionless_arn():
    # IAM grants a global profile's model in every Region (arn:aws:bedrock:::foundation-model/...).
    assert check(t(f"global.{SONNET}")) == []


def test_check_profile_only_model_names_the_geo_profile_before_global():
    assert check(t(SONNET)) == [
        (
            PROBLEM,
            f"model {SONNET} can't be invoked on demand; use inference profile us.{SONNET} "
            "(found with ListInferenceProfiles)",
        )
    ]


def test_check_streaming_flag():
    assert check(t(EMBED, "streaming = true")) == [
        (
            PROBLEM,
            f"streaming = true, but {EMBED} can't stream (responseStreamingSupported is false); "
            "set streaming = false or remove it (/stream then sends one InvokeModel answer as a single chunk)",
        )
    ]
    assert check(t(NOVA, "streaming = false")) == [
        (
            WARNING,
            f"streaming = false, but {NOVA} can stream: /stream sends its answer as one chunk; "
            "remove streaming = false to stream chunk by chunk",
        )
    ]


def test_check_eol_model_is_a_problem_with_its_date():
    assert check(t("anthropic.claude-v2")) == [
        (PROBLEM, "model anthropic.claude-v2 reached its end of life on 2025-07-21" + EOL_SUFFIX)
    ]
    # Retired without a published date; through a system profile; as an ARN.
    assert check(t("ai21.j2-mid-v1")) == [
        (PROBLEM, "model ai21.j2-mid-v1 reached its end of life" + EOL_SUFFIX)
    ]
    sonnet_37 = "anthropic.claude-3-7-sonnet-20250219-v1:0"
    assert check(t(f"us.{sonnet_37}")) == [
        (PROBLEM, f"model {sonnet_37} reached its end of life on 2026-04-28" + EOL_SUFFIX)
    ]
    assert check(t(fm_arn("cohere.command-r-v1:0"))) == [
        (PROBLEM, "model cohere.command-r-v1:0 reached its end of life on 2026-08-19" + EOL_SUFFIX)
    ]


def test_check_eol_model_behind_a_provisioned_throughput():
    arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/r3t1r3dpt001"
    assert check(t(arn)) == [
        (
            PROBLEM,
            "model anthropic.claude-3-haiku-20240307-v1:0 reached its end of life on 2026-09-10" + EOL_SUFFIX,
        )
    ]


def test_check_lifecycle_is_judged_for_the_checked_region():
    sonnet_35 = "anthropic.claude-3-5-sonnet-20240620-v1:0"  # EOL 2026-03-01, in eu-central-2 2026-06-01
    account = dict(models=[model(sonnet_35)])
    assert check(t(sonnet_35), **account)[0][1].startswith(
        f"model {sonnet_35} reached its end of life on 2026-03-01"
    )
    in_zurich = check(t(sonnet_35), region="eu-central-2", **account)
    assert in_zurich[0][1].startswith(f"model {sonnet_35} reached its end of life on 2026-06-01")
    # Before that date it is still served there, as Legacy.
    assert check(t(sonnet_35), region="eu-central-2", today=date(2026, 5, 1), **account) == [
        (WARNING, f"model {sonnet_35} is LEGACY: end of life on 2026-06-01" + LEGACY_FIX)
    ]


def test_check_legacy_model_is_a_warning_naming_its_eol_date():
    assert check(t(f"us.{SONNET_45}")) == [
        (WARNING, f"model {SONNET_45} is LEGACY: end of life on 2027-04-08" + LEGACY_FIX)
    ]
    assert check(t(TITAN)) == [
        (WARNING, f"model {TITAN} is LEGACY: its end-of-life date is not published yet" + LEGACY_FIX)
    ]
    report = Checker(Account(FakeBedrock(**US_ACCOUNT)), CATALOG_DAY).check(
        Target(name="x", ref=parse_model_id(f"us.{SONNET_45}"))
    )
    assert report.status == WARNING
    assert (report.facts["lifecycle"], report.facts["endOfLife"]) == ("LEGACY", "2027-04-08")


def test_check_legacy_date_from_the_account_when_the_catalog_has_none():
    account = dict(models=[model(TITAN, lifecycle="LEGACY", end_of_life=date(2027, 6, 30))])
    assert check(t(TITAN), **account) == [
        (WARNING, f"model {TITAN} is LEGACY: end of life on 2027-06-30" + LEGACY_FIX)
    ]


def test_check_legacy_follows_the_catalog_dates_even_where_the_account_says_active():
    account = dict(
        models=[model(SONNET_45, types=("INFERENCE_PROFILE",))],
        profiles=[profile(f"us.{SONNET_45}", SONNET_45)],
    )
    assert check(t(f"us.{SONNET_45}"), today=date(2026, 9, 1), **account) == []  # before its Legacy date
    assert check(t(f"us.{SONNET_45}"), **account) == [
        (WARNING, f"model {SONNET_45} is LEGACY: end of life on 2027-04-08" + LEGACY_FIX)
    ]


def test_check_eol_reported_by_the_account_for_a_model_the_catalog_does_not_know():
    assert check(t("old.model-v1")) == [
        (PROBLEM, "model old.model-v1 is EOL; move the target to an ACTIVE model")
    ]


def test_check_placeholder_accounts_are_problems_without_calling_aws():
    placeholder_fix = "replace it with your own account's resource ARNs (or remove the target)"
    client = FakeBedrock(**US_ACCOUNT)
    config = parse_targets(
        f'[targets.pt]\nmodel = "arn:aws:bedrock:us-east-1:{PLACEHOLDER}:provisioned-model/abcdefghij12"\n'
        f'[targets.app]\nmodel = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/a1b2c3d4e5f6"\n'
        f'models = ["{fm_arn(SONNET)}"]\n'
        f'[targets.guarded]\nmodel = "{NOVA}"\n'
        f'guardrail = {{ id = "arn:aws:bedrock:us-east-1:{PLACEHOLDER}:guardrail/abc123def456", version = "1" }}\n'
    )
    reports = Checker(Account(client), CATALOG_DAY).check_config(config)
    assert [(r.target.name, [(f.level, f.text()) for f in r.findings]) for r in reports] == [
        (
            "pt",
            [
                (
                    PROBLEM,
                    f"account {PLACEHOLDER} in the target's ARNs is a placeholder from the examples; {placeholder_fix}",
                )
            ],
        ),
        (
            "app",
            [
                (
                    PROBLEM,
                    f"account 111122223333 in the target's ARNs is a placeholder from the examples; {placeholder_fix}",
                )
            ],
        ),
        (
            "guarded",
            [
                (
                    PROBLEM,
                    f"account {PLACEHOLDER} in the target's ARNs is a placeholder from the examples; {placeholder_fix}",
                )
            ],
        ),
    ]
    assert client.calls == []
    # The same resources in one's own account are checked against it.
    own = f'[targets.pt]\nmodel = "arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/inservice001"\n'
    assert check(own) == []


def test_check_missing_model_and_profiles():
    assert check(t("anthropic.claude-9"))[0][1].startswith(
        "model anthropic.claude-9 is not offered in us-east-1"
    )
    missing_profile = check(t("us.amazon.nova-lite-v1:0"))
    assert missing_profile[0][1].startswith(
        "inference profile us.amazon.nova-lite-v1:0 does not exist in us-east-1"
    )


def test_check_provisioned_status():
    pt = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/"
    assert check(t(pt + "creating0001")) == [
        (
            PROBLEM,
            "provisioned throughput pt-new is Creating, not InService; "
            "wait until `targets provisioned` shows it InService before deploying",
        )
    ]
    assert check(t(pt + "updating0001"))[0][0] == WARNING
    assert check(t(pt + "zzzzzzzzzzzz"))[0][1].startswith(
        f"provisioned throughput {pt}zzzzzzzzzzzz does not exist"
    )


def test_check_region_of_arns_and_geo_of_profiles():
    west = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/inservice001"
    assert check(t(west)) == [
        (
            PROBLEM,
            f"provisioned-throughput ARN {west} is in us-west-2, but the region being "
            "checked is us-east-1; use the us-east-1 ARN of the resource, or check "
            "us-west-2 with --region us-west-2",
        )
    ]
    eu = dict(models=[model(SONNET)], profiles=[profile(f"eu.{SONNET}", SONNET, regions=("eu-west-1",))])
    assert check(t(f"us.{SONNET}"), region="eu-west-1", **eu) == [
        (
            PROBLEM,
            f"us. inference profile us.{SONNET} is for US regions, but the region being checked is "
            f"eu-west-1; use inference profile eu.{SONNET}",
        )
    ]
    assert check(t(f"jp.{SONNET}")) == [
        (
            PROBLEM,
            f"jp. inference profile jp.{SONNET} is for Japan regions, but the region being checked is "
            f"us-east-1; use inference profile us.{SONNET}",
        )
    ]


def test_check_application_profile_models_both_directions():
    arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/app1"
    assert check(t(arn, f'models = ["{fm_arn(SONNET)}"]')) == []
    findings = check(t(arn, f'models = ["{fm_arn(SONNET, "us-west-2")}"]'))
    assert [level for level, _ in findings] == [PROBLEM, PROBLEM]
    assert f"the profile routes to {fm_arn(SONNET)}, which `models` does not list" in findings[0][1]
    assert (
        f"`models` lists {fm_arn(SONNET, 'us-west-2')}, which the profile does not route to" in findings[1][1]
    )
    gone = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/gone00000000"
    assert "does not exist in us-east-1" in check(t(gone, f'models = ["{fm_arn(SONNET)}"]'))[0][1]


def test_check_warns_when_a_profile_routes_beyond_the_catalogs_regions():
    # us-west-1 is a destination the catalog documents (from us-west-1): IAM allows it.
    documented = dict(
        models=[model(SONNET)], profiles=[profile(f"us.{SONNET}", SONNET, regions=("us-east-1", "us-west-1"))]
    )
    assert check(t(f"us.{SONNET}"), **documented) == []
    wide = dict(
        models=[model(SONNET)],
        profiles=[profile(f"us.{SONNET}", SONNET, regions=("us-east-1", "ca-central-1"))],
    )
    [(level, text)] = check(t(f"us.{SONNET}"), **wide)
    assert level == WARNING
    assert text.startswith(
        f"the profile also routes to {fm_arn(SONNET, 'ca-central-1')}, which IAM derived from the catalog's "
        "Regions for this profile does not allow; state models = "
    )


def test_account_follows_next_token_and_lists_each_type_once():
    client = FakeBedrock(**US_ACCOUNT)
    account = Account(client)
    assert [p["inferenceProfileId"] for p in account.profiles("SYSTEM_DEFINED")] == [
        f"us.{HAIKU}",
        f"global.{SONNET}",
        f"us.{SONNET}",
        f"us.{SONNET_45}",
    ]
    account.profiles()
    assert client.calls == [
        "ListInferenceProfiles SYSTEM_DEFINED 0",
        "ListInferenceProfiles SYSTEM_DEFINED 1",
        "ListInferenceProfiles SYSTEM_DEFINED 2",
        "ListInferenceProfiles SYSTEM_DEFINED 3",
        "ListInferenceProfiles APPLICATION 0",
    ]


@pytest.mark.parametrize(
    "geo, region, serves",
    [
        ("us", "us-east-1", True),
        ("us", "us-west-1", True),
        ("us", "us-gov-west-1", False),
        ("us", "eu-west-1", False),
        ("eu", "eu-north-1", True),
        ("apac", "ap-south-1", True),
        ("jp", "ap-northeast-3", True),
        ("jp", "ap-south-1", False),
        ("au", "ap-southeast-2", True),
        ("au", "ap-northeast-1", False),
        ("ca", "ca-central-1", True),
        ("global", "sa-east-1", True),
        ("global", "us-gov-west-1", False),
        ("us-gov", "us-gov-east-1", True),
        ("mars", "us-east-1", False),
    ],
)
def test_geo_serves(geo, region, serves):
    assert geo_serves(geo, region) is serves


def test_check_target_built_in_code_matches_config_target():
    client = FakeBedrock(**US_ACCOUNT)
    report = Checker(Account(client)).check(Target(name="x", ref=parse_model_id(NOVA)))
    assert report.status == "ok" and report.summary() == "ACTIVE, on demand, streams"
