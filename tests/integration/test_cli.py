"""The targets CLI against the Bedrock emulator through real boto3: paginated lists, check, explain --live."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bedrock_emulator import Emulator, emulator_env
from bedrock_gateway.core import bedrock

from gateway_cli import main

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
APP_PROFILE = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/a1b2c3d4e5f6"
PT = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/"
SONNET = "anthropic.claude-3-5-sonnet-20240620-v1:0"
SONNET_37 = "anthropic.claude-3-7-sonnet-20250219-v1:0"


@pytest.fixture(scope="module")
def cli_emulator():
    with pytest.MonkeyPatch.context() as mp, Emulator(port=0) as emu:
        for name, value in emulator_env(emu.url).items():
            mp.setenv(name, value)
        for name in ("AWS_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN", "TARGETS_FILE"):
            mp.delenv(name, raising=False)
        bedrock.reset()
        yield emu
    bedrock.reset()


@pytest.fixture
def cli(cli_emulator, capsys):
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["targets", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def config(tmp_path):
    def write(body: str) -> str:
        path = tmp_path / "targets.toml"
        path.write_text(body)
        return str(path)

    return write


def rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()[1:]]


# ---- models, profiles, provisioned ----


def test_models_lists_the_whole_catalog(cli, cli_emulator):
    code, out, err = cli("models")
    assert (code, err) == (0, "")
    assert out.splitlines()[0].split() == [
        "MODEL",
        "ID",
        "PROVIDER",
        "IN",
        "OUT",
        "STREAM",
        "INFERENCE",
        "LIFECYCLE",
    ]
    assert sorted(r[0] for r in rows(out)) == sorted(cli_emulator.catalog.foundation_models)


@pytest.mark.parametrize(
    "filters, expected",
    [
        (["--provider", "anthropic", "--inference-type", "inference_profile"], [SONNET_37]),
        (["--provider", "AI21 Labs"], ["ai21.j2-mid-v1", "ai21.j2-ultra-v1"]),
        (["--no-streaming", "--modality", "text"], ["ai21.j2-mid-v1", "ai21.j2-ultra-v1"]),
        (["--modality", "EMBEDDING"], ["amazon.titan-embed-text-v1", "amazon.titan-embed-text-v2:0"]),
        (["--inference-type", "PROVISIONED"], ["anthropic.claude-v2", "anthropic.claude-v2:1"]),
        (
            ["--streaming", "--provider", "meta"],
            ["meta.llama3-1-70b-instruct-v1:0", "meta.llama3-8b-instruct-v1:0"],
        ),
        (["--provider", "nobody"], []),
    ],
)
def test_models_filters(cli, filters, expected):
    code, out, _ = cli("models", *filters, "--json")
    assert code == 0
    assert [m["modelId"] for m in json.loads(out)] == expected


def test_models_with_input_modality_and_table(cli):
    code, out, _ = cli("models", "--input-modality", "image", "--provider", "amazon")
    assert code == 0
    assert [(r[0], r[2]) for r in rows(out)] == [
        ("amazon.nova-lite-v1:0", "TEXT,IMAGE,VIDEO"),
        ("amazon.nova-pro-v1:0", "TEXT,IMAGE,VIDEO"),
    ]


def test_profiles_lists_system_and_application_across_pages(cli, cli_emulator):
    code, out, _ = cli("profiles")
    assert code == 0
    expected = len(cli_emulator.catalog.profiles_in("us-east-1"))
    assert expected > 5  # more than one page of the emulator's 5
    table = rows(out)
    assert len(table) == expected
    assert [f"us.{SONNET}", "SYSTEM_DEFINED", "ACTIVE", SONNET, "us-east-1,us-east-2,us-west-2"] in table
    assert [APP_PROFILE, "APPLICATION", "ACTIVE", SONNET, "us-east-1"] in table

    code, out, _ = cli("profiles", "--type", "application", "--json")
    profiles = json.loads(out)
    assert {p["type"] for p in profiles} == {"APPLICATION"}
    assert APP_PROFILE in {p["inferenceProfileArn"] for p in profiles}


def test_provisioned_shows_status(cli, cli_emulator):
    code, out, _ = cli("provisioned")
    assert code == 0
    table = {r[-1]: r for r in rows(out)}
    assert len(table) == len(cli_emulator.catalog.provisioned)
    assert table[PT + "abcdefghij12"][:3] == ["claude-v2-pt", "InService", "anthropic.claude-v2"]
    assert table[PT + "cr3at1ngpt01"][1] == "Creating"
    assert table[PT + "fa1l3dpt0001"][1] == "Failed"

    code, out, _ = cli("provisioned", "--status", "InService", "--json")
    items = json.loads(out)
    assert {p["status"] for p in items} == {"InService"}
    assert PT + "abcdefghij12" in {p["provisionedModelArn"] for p in items}


# ---- check ----


def test_check_passes_on_the_default_config(cli):
    code, out, err = cli("check")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[-1] == "checked 11 targets: 0 problems, 2 warnings (us-east-1)"
    assert not [line for line in lines if line.startswith("problem")]
    assert "ok       sonnet    us.anthropic.claude-3-5-sonnet-20240620-v1:0: ACTIVE, streams" in lines


def test_check_json_on_the_default_config(cli):
    code, out, _ = cli("--json", "check")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and report["problems"] == 0 and report["region"] == "us-east-1"
    by_name = {t["name"]: t for t in report["targets"]}
    assert by_name["team-a"]["facts"]["model"] == SONNET
    assert by_name["tuned"]["facts"]["status"] == "InService"
    assert by_name["jurassic"]["findings"][0]["level"] == "warning"


def test_check_on_demand_only_model_names_the_profile(cli, config):
    path = config(f'[targets.s37]\nmodel = "{SONNET_37}"\n[targets.claude]\nmodel = "anthropic.claude-v2"\n')
    code, out, _ = cli("check", "--config", path)
    assert code == 1
    assert (
        f"problem  s37     model {SONNET_37} can't be invoked on demand; use inference profile us.{SONNET_37} "
        "(found with ListInferenceProfiles)"
    ) in out.splitlines()
    assert out.splitlines()[-1] == "checked 2 targets: 1 problem, 0 warnings (us-east-1)"


def test_the_named_profile_really_works(cli, config):
    fixed = config(f'[targets.s37]\nmodel = "us.{SONNET_37}"\n')
    assert cli("check", "--config", fixed)[0] == 0


@pytest.mark.parametrize("pt, status", [("cr3at1ngpt01", "Creating"), ("fa1l3dpt0001", "Failed")])
def test_check_non_inservice_provisioned_throughput(cli, config, pt, status):
    code, out, _ = cli("check", "--config", config(f'[targets.pt]\nmodel = "{PT}{pt}"\n'))
    assert code == 1
    [line] = [line for line in out.splitlines() if line.startswith("problem")]
    assert f"is {status}, not InService" in line


def test_check_wrong_streaming_flag(cli, config):
    code, out, _ = cli(
        "check", "--config", config('[targets.j2]\nmodel = "ai21.j2-mid-v1"\nstreaming = true\n')
    )
    assert code == 1
    assert (
        "problem  j2  streaming = true, but ai21.j2-mid-v1 can't stream (responseStreamingSupported is false); "
        "set streaming = false or remove it (/stream then sends one InvokeModel answer as a single chunk)"
    ) in out.splitlines()


def test_check_wrong_region_arn(cli, config):
    west = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/abcdefghij12"
    code, out, _ = cli("check", "--config", config(f'[targets.west]\nmodel = "{west}"\n'))
    assert code == 1
    [line] = [line for line in out.splitlines() if line.startswith("problem")]
    assert "is in us-west-2, but the region being checked is us-east-1" in line


def test_check_us_profile_from_an_eu_region_names_the_eu_profile(cli):
    code, out, _ = cli("check", "--region", "eu-west-1")
    assert code == 1
    lines = out.splitlines()
    assert (
        f"problem  sonnet    us. inference profile us.{SONNET} is for US regions, but the region being checked "
        f"is eu-west-1; use inference profile eu.{SONNET}"
    ) in lines
    assert lines[-1].endswith("(eu-west-1)")


def test_check_application_profile_models_mismatch(cli, config):
    wrong = f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET_37}"
    code, out, _ = cli(
        "check", "--config", config(f'[targets.app]\nmodel = "{APP_PROFILE}"\nmodels = ["{wrong}"]\n')
    )
    assert code == 1
    problems = [line for line in out.splitlines() if line.startswith("problem")]
    assert len(problems) == 2
    assert f"routes to arn:aws:bedrock:us-east-1::foundation-model/{SONNET}" in problems[0]
    assert f"`models` lists {wrong}" in problems[1]


def test_check_missing_resources(cli, config):
    body = (
        f'[targets.pt]\nmodel = "{PT}zzzzzzzzzzzz"\n'
        f'[targets.app]\nmodel = "{APP_PROFILE[:-12]}zzzzzzzzzzzz"\nmodels = ["arn:aws:bedrock:us-east-1::'
        f'foundation-model/{SONNET}"]\n[targets.fm]\nmodel = "anthropic.claude-9"\n'
    )
    code, out, _ = cli("check", "--config", config(body))
    assert code == 1
    assert out.splitlines()[-1].startswith("checked 3 targets: 3 problems")


def test_check_custom_deployment_imported_and_custom_provisioned(cli, config):
    body = (
        f'[targets.dep]\nmodel = "arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model-deployment/d3pl0ym3nt01"\n'
        f'[targets.imp]\nmodel = "arn:aws:bedrock:us-east-1:{ACCOUNT}:imported-model/1mp0rt3dl1am"\n'
        f'[targets.cpt]\nmodel = "{PT}cu5t0mpt0001"\n'
    )
    code, out, _ = cli("check", "--config", config(body))
    assert code == 0, out
    assert "ok       cpt  " in out and "InService, model amazon.titan-text-express-v1, streams" in out


# ---- explain --live ----


def test_explain_live_resolves_the_hidden_model(cli):
    code, out, _ = cli("explain", APP_PROFILE, "--live")
    assert code == 0
    lines = out.splitlines()
    assert f"model      {SONNET} (resolved live)" in lines
    assert "streaming  yes" in lines and "status     ACTIVE" in lines
    assert lines[-1].strip() == f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET}"


def test_explain_live_reports_problems(cli):
    code, out, _ = cli("explain", SONNET_37, "--live", "--json")
    info = json.loads(out)
    assert code == 0 and info["live"]["status"] == "problem"
    assert info["live"]["findings"][0]["fix"].startswith(f"use inference profile us.{SONNET_37}")

    code, out, _ = cli("explain", f"{PT}fa1l3dpt0001", "--live")
    assert "problem    provisioned throughput mistral-7b-pt is Failed, not InService" in out


def test_explain_live_system_profile_gets_the_account_for_iam(cli):
    code, out, _ = cli("explain", f"us.{SONNET}", "--live", "--json")
    info = json.loads(out)
    assert info["iamResources"][0] == f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{SONNET}"
    assert info["live"]["facts"]["streaming"] is True


# ---- the real entry point ----


def test_module_entry_point_and_unreachable_endpoint(cli_emulator):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(ROOT / p) for p in ("lambda_src", "local", ".")))
    done = subprocess.run(
        [sys.executable, "-m", "gateway_cli", "targets", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "checked 11 targets: 0 problems" in done.stdout

    env["AWS_ENDPOINT_URL_BEDROCK"] = "http://127.0.0.1:9"
    done = subprocess.run(
        [sys.executable, "-m", "gateway_cli", "targets", "profiles"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: cannot reach Bedrock") and len(done.stderr.splitlines()) == 1
