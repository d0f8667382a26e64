"""The targets CLI against the Bedrock emulator through real boto3: paginated lists, check, explain --live,
and `make targets ARGS=check` as a subprocess (the deploy gate)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from bedrock_emulator import Emulator, emulator_env
from bedrock_gateway.core import bedrock

from gateway_cli import main

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "config" / "targets.toml"
EXAMPLES_CONFIG = ROOT / "config" / "examples" / "account-resources.toml"
#: The emulated account is one's own here: AWS's placeholder 123456789012 (the emulator's default, and
#: the examples') is a problem for `check`.
ACCOUNT = "210987654321"
#: The emulator's lifecycle day for the listing tests (the catalog's dates retire models over time).
CATALOG_DAY = date(2026, 11, 30)
APP_PROFILE = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/a1b2c3d4e5f6"
PT = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/"
SONNET = "anthropic.claude-sonnet-4-6"  # INFERENCE_PROFILE only
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"  # Legacy, EOL 2027-04-08
TITAN = "amazon.titan-text-express-v1"  # Legacy, no EOL date published
EMBED = "amazon.titan-embed-text-v2:0"  # cannot stream
PYTHONPATH = os.pathsep.join(str(ROOT / p) for p in ("lambda_src", "local", "."))
#: `targets check` on config/targets.toml against the emulator in us-east-1, line by line.
DEFAULT_CHECK = [
    f"config {DEFAULT_CONFIG}, region us-east-1",
    "ok       claude   global.anthropic.claude-sonnet-4-6: ACTIVE, streams",
    "ok       haiku    us.anthropic.claude-haiku-4-5-20251001-v1:0: ACTIVE, streams",
    "ok       nova     amazon.nova-pro-v1:0: ACTIVE, on demand, streams",
    "ok       llama    us.meta.llama3-3-70b-instruct-v1:0: ACTIVE, streams",
    "ok       mistral  mistral.mistral-large-3-675b-instruct: ACTIVE, on demand, streams",
    "ok       embed    amazon.titan-embed-text-v2:0: ACTIVE, on demand, no streaming",
    "checked 6 targets: 0 problems, 0 warnings (us-east-1)",
]
EOL_FIX = (
    ': Bedrock answers ResourceNotFoundException ("This model version has reached the end of its life"); '
    "move the target to a current model (`targets models` lists them; `targets explain <model> --live` "
    "names the inference profile a model needs)"
)
#: The account's own resources (the emulator has them), a Legacy model and a clean one.
ACCOUNT_TARGETS = f"""
[targets.claude]
model = "global.{SONNET}"

[targets.team-a]
model = "{APP_PROFILE}"
models = [
    "arn:aws:bedrock:us-east-1::foundation-model/{SONNET}",
    "arn:aws:bedrock:us-east-2::foundation-model/{SONNET}",
    "arn:aws:bedrock:us-west-2::foundation-model/{SONNET}",
]
guardrail = {{ id = "abc123def456", version = "1" }}

[targets.tuned]
model = "{PT}abcdefghij12"
streaming = false

[targets.titan]
model = "{TITAN}"
"""


@pytest.fixture(scope="module")
def cli_emulator():
    with (
        pytest.MonkeyPatch.context() as mp,
        Emulator(port=0, account=ACCOUNT, lifecycle_date=CATALOG_DAY) as emu,
    ):
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


def test_models_lists_what_the_account_offers_and_no_retired_model(cli, cli_emulator):
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
    listed = sorted(r[0] for r in rows(out))
    assert listed == sorted(m.model_id for m in cli_emulator.catalog.listed_models("us-east-1"))
    assert "anthropic.claude-v2" not in listed and "ai21.j2-mid-v1" not in listed


def test_models_show_the_end_of_life_of_legacy_models(cli):
    code, out, _ = cli("models", "--provider", "amazon")
    assert code == 0
    lifecycle = {line.split()[0]: line.split("  ")[-1] for line in out.splitlines()[1:]}
    assert lifecycle["amazon.nova-pro-v1:0"] == "ACTIVE"
    assert lifecycle[TITAN] == "LEGACY (EOL not published)"
    code, out, _ = cli("models", "--provider", "anthropic")
    assert [line for line in out.splitlines() if line.startswith(SONNET_45)][0].endswith(
        "INFERENCE_PROFILE  LEGACY (EOL 2027-04-08)"
    )


@pytest.mark.parametrize(
    "filters, expected",
    [
        # Every current Claude needs an inference profile.
        (["--provider", "anthropic", "--inference-type", "on_demand"], []),
        (
            ["--provider", "anthropic", "--inference-type", "inference_profile"],
            [
                "anthropic.claude-haiku-4-5-20251001-v1:0",
                "anthropic.claude-haiku-5-5",
                "anthropic.claude-opus-4-1-20250805-v1:0",
                "anthropic.claude-opus-4-6-v1",
                SONNET_45,
                SONNET,
            ],
        ),
        (
            ["--provider", "Mistral AI", "--input-modality", "image"],
            ["mistral.mistral-large-3-675b-instruct", "mistral.pixtral-large-2502-v1:0"],
        ),
        (["--no-streaming"], ["amazon.titan-embed-text-v1", EMBED]),  # embeddings cannot stream
        (["--modality", "EMBEDDING"], ["amazon.titan-embed-text-v1", EMBED]),
        (
            ["--streaming", "--provider", "meta", "--inference-type", "ON_DEMAND"],
            ["meta.llama3-1-8b-instruct-v1:0", "meta.llama3-8b-instruct-v1:0"],
        ),
        (["--provider", "AI21 Labs"], []),  # every AI21 model has reached its end of life
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
        ("amazon.nova-2-lite-v1:0", "TEXT,IMAGE,VIDEO"),
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
    assert [APP_PROFILE, "APPLICATION", "ACTIVE", SONNET, "us-east-1,us-east-2,us-west-2"] in table
    assert not [r for r in table if "claude-3" in r[0]]  # retired models' profiles are gone

    code, out, _ = cli("profiles", "--type", "application", "--json")
    profiles = json.loads(out)
    assert {p["type"] for p in profiles} == {"APPLICATION"}
    assert APP_PROFILE in {p["inferenceProfileArn"] for p in profiles}


def test_provisioned_shows_status(cli, cli_emulator):
    code, out, _ = cli("provisioned")
    assert code == 0
    table = {r[-1]: r for r in rows(out)}
    assert len(table) == len(cli_emulator.catalog.provisioned)
    assert table[PT + "abcdefghij12"][:3] == ["nova-pro-pt", "InService", "amazon.nova-pro-v1:0"]
    assert table[PT + "cr3at1ngpt01"][1] == "Creating"
    assert table[PT + "fa1l3dpt0001"][1] == "Failed"
    # A throughput bought on a model that has since retired is still listed (check reports it).
    assert table[PT + "r3t1r3dpt001"][1:3] == ["InService", "anthropic.claude-3-haiku-20240307-v1:0"]

    code, out, _ = cli("provisioned", "--status", "InService", "--json")
    items = json.loads(out)
    assert {p["status"] for p in items} == {"InService"}
    assert PT + "abcdefghij12" in {p["provisionedModelArn"] for p in items}


# ---- check ----


def test_check_passes_on_the_default_config(cli):
    code, out, err = cli("check")
    assert (code, err) == (0, "")
    assert out.splitlines() == DEFAULT_CHECK


def test_check_json_on_the_account_resources(cli, config):
    code, out, _ = cli("--json", "check", "--config", config(ACCOUNT_TARGETS))
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and report["problems"] == 0 and report["region"] == "us-east-1"
    assert report["warnings"] == 2
    by_name = {t["name"]: t for t in report["targets"]}
    assert by_name["claude"]["status"] == "ok" and by_name["team-a"]["status"] == "ok"
    assert by_name["team-a"]["facts"]["model"] == SONNET
    assert by_name["tuned"]["facts"]["status"] == "InService"
    assert by_name["tuned"]["findings"][0]["message"].startswith(
        "streaming = false, but amazon.nova-pro-v1:0"
    )
    titan = by_name["titan"]
    assert titan["facts"]["lifecycle"] == "LEGACY" and titan["facts"]["endOfLife"] is None
    assert [f["level"] for f in titan["findings"]] == ["warning"]


def test_check_eol_model_is_a_problem_with_its_date(cli, config):
    body = '[targets.claude]\nmodel = "anthropic.claude-v2"\n[targets.nova]\nmodel = "amazon.nova-pro-v1:0"\n'
    code, out, _ = cli("check", "--config", config(body))
    assert code == 1
    assert out.splitlines()[1:] == [
        "problem  claude  model anthropic.claude-v2 reached its end of life on 2025-07-21" + EOL_FIX,
        "ok       nova    amazon.nova-pro-v1:0: ACTIVE, on demand, streams",
        "checked 2 targets: 1 problem, 0 warnings (us-east-1)",
    ]


def test_check_eol_model_behind_a_provisioned_throughput(cli, config):
    code, out, _ = cli("check", "--config", config(f'[targets.pt]\nmodel = "{PT}r3t1r3dpt001"\n'))
    assert code == 1
    assert out.splitlines()[1] == (
        "problem  pt  model anthropic.claude-3-haiku-20240307-v1:0 reached its end of life on 2026-09-10"
        + EOL_FIX
    )


def test_check_legacy_model_is_a_warning(cli, config):
    code, out, _ = cli("check", "--config", config(f'[targets.titan]\nmodel = "{TITAN}"\n'))
    assert code == 0
    assert out.splitlines()[1:] == [
        f"warning  titan  model {TITAN} is LEGACY: its end-of-life date is not published yet; "
        "plan a move to a current model before then (`targets models` lists them)",
        "checked 1 target: 0 problems, 1 warning (us-east-1)",
    ]


def test_check_placeholder_accounts_in_the_examples_are_problems(cli):
    code, out, _ = cli("check", "--config", str(EXAMPLES_CONFIG))
    assert code == 1
    placeholder = (
        "account 123456789012 in the target's ARNs is a placeholder from the examples; "
        "replace it with your own account's resource ARNs (or remove the target)"
    )
    assert out.splitlines()[1:] == [
        f"problem  team-a  {placeholder}",
        f"problem  tuned   {placeholder}",
        f"ok       claude  global.{SONNET}: ACTIVE, streams",
        "checked 3 targets: 2 problems, 0 warnings (us-east-1)",
    ]


def test_check_profile_only_model_names_the_profile(cli, config):
    path = config(f'[targets.s46]\nmodel = "{SONNET}"\n[targets.nova]\nmodel = "amazon.nova-pro-v1:0"\n')
    code, out, _ = cli("check", "--config", path)
    assert code == 1
    assert (
        f"problem  s46   model {SONNET} can't be invoked on demand; use inference profile us.{SONNET} "
        "(found with ListInferenceProfiles)"
    ) in out.splitlines()
    assert out.splitlines()[-1] == "checked 2 targets: 1 problem, 0 warnings (us-east-1)"


def test_the_named_profile_really_works(cli, config):
    fixed = config(f'[targets.s46]\nmodel = "us.{SONNET}"\n')
    assert cli("check", "--config", fixed)[0] == 0


@pytest.mark.parametrize("pt, status", [("cr3at1ngpt01", "Creating"), ("fa1l3dpt0001", "Failed")])
def test_check_non_inservice_provisioned_throughput(cli, config, pt, status):
    code, out, _ = cli("check", "--config", config(f'[targets.pt]\nmodel = "{PT}{pt}"\n'))
    assert code == 1
    [line] = [line for line in out.splitlines() if line.startswith("problem")]
    assert f"is {status}, not InService" in line


def test_check_wrong_streaming_flag(cli, config):
    code, out, _ = cli("check", "--config", config(f'[targets.embed]\nmodel = "{EMBED}"\nstreaming = true\n'))
    assert code == 1
    assert (
        f"problem  embed  streaming = true, but {EMBED} can't stream (responseStreamingSupported is false); "
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
    haiku = "anthropic.claude-haiku-4-5-20251001-v1:0"
    assert (
        f"problem  haiku    us. inference profile us.{haiku} is for US regions, but the region being checked "
        f"is eu-west-1; use inference profile eu.{haiku}"
    ) in lines
    assert lines[0].endswith("region eu-west-1") and lines[-1].endswith("(eu-west-1)")


def test_check_honours_aws_region(cli, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # AWS_DEFAULT_REGION stays us-east-1
    code, out, _ = cli("check")
    assert code == 1
    assert out.splitlines()[0] == f"config {DEFAULT_CONFIG}, region eu-west-1"
    assert out.splitlines()[-1] == "checked 6 targets: 2 problems, 0 warnings (eu-west-1)"
    assert cli("check", "--region", "us-east-1")[0] == 0  # --region still wins


def test_check_application_profile_models_mismatch(cli, config):
    wrong = f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET_45}"
    code, out, _ = cli(
        "check", "--config", config(f'[targets.app]\nmodel = "{APP_PROFILE}"\nmodels = ["{wrong}"]\n')
    )
    assert code == 1
    problems = [line for line in out.splitlines() if line.startswith("problem")]
    assert len(problems) == 4
    for region in ("us-east-1", "us-east-2", "us-west-2"):
        assert any(f"routes to arn:aws:bedrock:{region}::foundation-model/{SONNET}," in p for p in problems)
    assert f"`models` lists {wrong}" in problems[-1]


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
    code, out, _ = cli("--json", "check", "--config", config(body))
    assert code == 0, out
    by_name = {t["name"]: t for t in json.loads(out)["targets"]}
    assert by_name["imp"]["status"] == "ok" and by_name["imp"]["facts"]["architecture"] == "llama3"
    # The custom model's base, Titan Text Express, is Legacy: both ways of calling it say so.
    for name, status in (("dep", "Active"), ("cpt", "InService")):
        assert by_name[name]["facts"]["status"] == status
        assert by_name[name]["facts"]["model"] == TITAN
        assert [f["message"] for f in by_name[name]["findings"]] == [
            f"model {TITAN} is LEGACY: its end-of-life date is not published yet"
        ]


# ---- explain --live ----


def test_explain_live_resolves_the_hidden_model(cli):
    code, out, _ = cli("explain", APP_PROFILE, "--live")
    assert code == 0
    lines = out.splitlines()
    assert f"model      {SONNET} (resolved live)" in lines
    assert "streaming  yes" in lines and "status     ACTIVE" in lines
    assert [line.strip() for line in lines[-3:]] == [
        f"arn:aws:bedrock:{region}::foundation-model/{SONNET}"
        for region in ("us-east-1", "us-east-2", "us-west-2")
    ]


def test_explain_live_reports_problems(cli):
    code, out, _ = cli("explain", SONNET, "--live", "--json")
    info = json.loads(out)
    assert code == 0 and info["live"]["status"] == "problem"
    assert info["live"]["findings"][0]["fix"].startswith(f"use inference profile us.{SONNET}")

    code, out, _ = cli("explain", f"{PT}fa1l3dpt0001", "--live")
    assert "problem    provisioned throughput mistral-7b-pt is Failed, not InService" in out

    code, out, _ = cli("explain", "anthropic.claude-v2", "--live")
    assert "problem    model anthropic.claude-v2 reached its end of life on 2025-07-21" + EOL_FIX in out


def test_explain_live_system_profile_gets_the_account_for_iam(cli):
    code, out, _ = cli("explain", f"us.{SONNET}", "--live", "--json")
    info = json.loads(out)
    assert info["iamResources"][0] == f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{SONNET}"
    assert info["live"]["facts"]["streaming"] is True


# ---- the real entry point: `make targets ARGS=check` as the deploy runs it ----


@pytest.fixture(scope="module")
def emulator_url():
    """An emulator as it answers today, in its default account."""
    with Emulator(port=0) as emu:
        yield emu.url


def targets_check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gateway_cli", "targets", "check", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def emulator_process_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "TARGETS_FILE"}
    return dict(env, PYTHONPATH=PYTHONPATH, **emulator_env(url))


def test_check_subprocess_exits_0_on_the_default_config(emulator_url):
    done = targets_check(emulator_process_env(emulator_url))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == DEFAULT_CHECK


def test_check_subprocess_exits_1_on_a_config_naming_an_eol_model(emulator_url, tmp_path):
    path = tmp_path / "retired.toml"
    path.write_text('[targets.claude]\nmodel = "anthropic.claude-v2"\n')
    done = targets_check(emulator_process_env(emulator_url), "--config", str(path))
    assert (done.returncode, done.stderr) == (1, "")
    assert done.stdout.splitlines() == [
        f"config {path}, region us-east-1",
        "problem  claude  model anthropic.claude-v2 reached its end of life on 2025-07-21" + EOL_FIX,
        "checked 1 target: 1 problem, 0 warnings (us-east-1)",
    ]


def test_check_subprocess_works_offline_with_the_endpoint_variable_alone(emulator_url, tmp_path):
    """No credentials anywhere (empty HOME, no AWS_* but the endpoint and region): still answers."""
    bare = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": PYTHONPATH}
    done = targets_check(dict(bare, AWS_ENDPOINT_URL_BEDROCK=emulator_url, AWS_REGION="us-east-1"))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == DEFAULT_CHECK
    # Without the endpoint it is real AWS: no credentials is an error, not a guess.
    done = targets_check(dict(bare, AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true"))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: no AWS credentials found")


def test_unreachable_endpoint_is_one_line(emulator_url):
    env = dict(emulator_process_env(emulator_url), AWS_ENDPOINT_URL_BEDROCK="http://127.0.0.1:9")
    done = subprocess.run(
        [sys.executable, "-m", "gateway_cli", "targets", "profiles"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: cannot reach Bedrock") and len(done.stderr.splitlines()) == 1
