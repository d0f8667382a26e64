"""A bad targets config or context value fails synth with a message naming it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from bedrock_gateway.core.targets import ConfigError

from infra.application import build_app
from infra.settings import SettingsError

BAD_MODEL = """
    [targets.good]
    model = "anthropic.claude-v2"

    [targets.broken-target]
    model = "not a model id"
"""


def test_bad_model_id_fails_the_build_naming_the_target(write_targets, tmp_path):
    path = write_targets(BAD_MODEL)
    with pytest.raises(ConfigError) as failure:
        build_app({"targetsFile": str(path)}, outdir=str(tmp_path))
    assert "broken-target" in str(failure.value)
    assert "not a model id" in str(failure.value)


def test_app_py_exits_non_zero_naming_the_target(write_targets, tmp_path):
    """What `cdk synth` runs: the CLI passes context through CDK_CONTEXT_JSON."""
    path = write_targets(BAD_MODEL)
    env = dict(os.environ, CDK_CONTEXT_JSON=json.dumps({"targetsFile": str(path)}), CDK_OUTDIR=str(tmp_path))
    project = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "broken-target" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.template.json"))


@pytest.mark.parametrize(
    "context, named",
    [
        ({"auth": "oauth"}, "auth"),
        ({"workerMaxConcurrency": "1"}, "workerMaxConcurrency"),
        ({"maxReceiveCount": "many"}, "maxReceiveCount"),
        ({"stage": "Prod_1"}, "stage"),
        ({"logRetentionDays": "10"}, "logRetentionDays"),
        ({"skipAssetDeps": "maybe"}, "skipAssetDeps"),
        ({"snapStart": "sometimes"}, "snapStart"),
        ({"kmsKey": "alias/gateway"}, "kmsKey"),
        ({"kmsKey": "arn:aws:kms:eu-west-1:111122223333:alias/gateway"}, "kmsKey"),
        # A likely typo would otherwise deploy the default without a word.
        ({"targetFile": "t.toml"}, "context targetFile: not an option; did you mean targetsFile?"),
        ({"keyRatelimit": "5"}, "did you mean keyRateLimit?"),
        ({"SNAPSTART": "true"}, "did you mean snapStart?"),
        # Settings of a usage plan this mode does not have.
        (
            {"auth": "apiKey", "keyQuotaPerDay": "1000"},
            "keyQuotaPerDay: only shapes the gateway keys' usage plan",
        ),
    ],
)
def test_bad_context_fails_naming_the_key(context, named, tmp_path):
    with pytest.raises(SettingsError, match=named):
        build_app(context, outdir=str(tmp_path))


def test_missing_targets_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        build_app({"targetsFile": str(tmp_path / "absent.toml")}, outdir=str(tmp_path))


def test_a_context_name_of_no_meaning_here_is_a_synth_warning(synthesize):
    from aws_cdk.assertions import Annotations, Match

    # Further than one slip from every option: maybe another tool's (~/.cdk.json reaches every app).
    synth = synthesize(teamTag="search", authMode="key", **{"cli-telemetry": "false"})
    warning = Match.string_like_regexp(
        r"context authMode \(did you mean auth\?\), teamTag: not an option of this app, ignored"
    )
    Annotations.from_stack(synth.stack).has_warning("*", warning)


def test_a_target_on_a_retired_model_is_a_synth_warning(synthesize, write_targets, default_synth):
    from aws_cdk.assertions import Annotations, Match

    retired = write_targets('[targets.old]\nmodel = "anthropic.claude-v2"\n')
    warning = Match.string_like_regexp(
        "target old: model anthropic.claude-v2 reached its end of life in Bedrock on"
    )
    Annotations.from_stack(synthesize(targetsFile=str(retired)).stack).has_warning("*", warning)
    lifecycle = Match.string_like_regexp("reached its end of life|is Legacy in Bedrock")
    assert Annotations.from_stack(default_synth.stack).find_warning("*", lifecycle) == []
