import json
from pathlib import Path

import pytest
from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.model_ids import ModelKind
from bedrock_gateway.core.targets import ConfigError, deep_merge, load_targets, parse_targets
from bedrock_gateway.edge.errors import status_of

REPO = Path(__file__).resolve().parents[3]


def config(text: str):
    return parse_targets(text, source="t.toml")


def test_default_config_loads_every_kind_it_declares():
    cfg = load_targets(REPO / "config" / "targets.toml")
    assert cfg.default_target == "claude"
    assert cfg.allow_raw_model_ids is False
    assert cfg.max_body_bytes == 1024 * 1024
    kinds = {t.name: t.kind for t in cfg.targets.values()}
    assert kinds["claude"] is ModelKind.INFERENCE_PROFILE
    assert kinds["nova"] is ModelKind.FOUNDATION_MODEL
    assert cfg.targets["claude"].ref.geo == "global"


def test_the_account_resources_example_loads_every_kind_it_declares():
    cfg = load_targets(REPO / "config" / "examples" / "account-resources.toml")
    kinds = {t.name: t.kind for t in cfg.targets.values()}
    assert kinds["team-a"] is ModelKind.APPLICATION_INFERENCE_PROFILE
    assert kinds["tuned"] is ModelKind.PROVISIONED_THROUGHPUT
    assert cfg.targets["team-a"].invoke_params() == {
        "guardrailIdentifier": "abc123def456",
        "guardrailVersion": "1",
        "serviceTier": "priority",
    }
    assert cfg.targets["tuned"].streaming is False


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read targets config"):
        load_targets(tmp_path / "nope.toml")


def test_a_file_that_is_not_utf8_text_is_a_config_error(tmp_path):
    binary = tmp_path / "targets.toml"
    binary.write_bytes(b"\xff\xfe bad")  # UTF-16's byte order mark, say
    with pytest.raises(
        ConfigError, match=r"targets.toml: not a TOML text file \(TOML is UTF-8; byte 0 is 0xff\)"
    ):
        load_targets(binary)


@pytest.mark.parametrize(
    "text,message",
    [
        ("not toml = [", "not valid TOML"),
        ("", "no targets"),
        ('surprise = 1\n[targets.a]\nmodel = "anthropic.claude-v2"', "unknown top-level key"),
        ('[targets.a]\nmodel = "gpt-4"', "target 'a': model 'gpt-4' is invalid"),
        ("[targets.a]\ndefaults = {}", "target 'a': 'model' is required"),
        ('[targets.a]\nmodel = "anthropic.claude-v2"\ntemprature = 1', "target 'a': unknown key"),
        ('[targets."a.b"]\nmodel = "anthropic.claude-v2"', "names may use"),
        ('[targets.a]\nmodel = "anthropic.claude-v2"\nkind = "inference-profile"', "does not match"),
        ('[targets.a]\nmodel = "anthropic.claude-v2"\nkind = "magic"', "kind 'magic' is not one of"),
        ('[targets.a]\nmodel = "anthropic.claude-v2"\nstreaming = "yes"', "streaming must be true or false"),
        ('[targets.a]\nmodel = "anthropic.claude-v2"\nservice_tier = "gold"', "service_tier 'gold'"),
        (
            '[targets.a]\nmodel = "anthropic.claude-v2"\nperformance_latency = "fast"',
            "performance_latency 'fast'",
        ),
        ('[targets.a]\nmodel = "anthropic.claude-v2"\ntrace = "on"', "trace 'on'"),
        ('[targets.a]\nmodel = "anthropic.claude-v2"\nguardrail = { id = "g" }', "guardrail must be"),
        (
            '[targets.a]\nmodel = "anthropic.claude-v2"\nguardrail = { id = "gr-abc123", version = "1" }',
            "guardrail id 'gr-abc123' is not a guardrail ID",
        ),
        (
            '[targets.a]\nmodel = "anthropic.claude-v2"\nguardrail = { id = "abc", version = "v1" }',
            "guardrail version 'v1'",
        ),
        ('[targets.a]\nmodel = "anthropic.claude-v2"\ndefaults = 3', "'defaults' must be a table"),
        (
            '[targets.a]\nmodel = "anthropic.claude-v2"\nmodels = ["arn:aws:bedrock:us-east-1::foundation-model/x.y"]',
            "applies to inference profiles only",
        ),
        (
            '[targets.a]\nmodel = "us.anthropic.claude-v2"\nmodels = ["anthropic.claude-v2"]',
            "must be a foundation-model ARN",
        ),
        (
            '[targets.a]\nmodel = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"',
            "hides its model; state",
        ),
        ('default_target = "b"\n[targets.a]\nmodel = "anthropic.claude-v2"', "default_target 'b'"),
        ('allow_raw_model_ids = "yes"\n[targets.a]\nmodel = "anthropic.claude-v2"', "allow_raw_model_ids"),
        ('max_body_bytes = 0\n[targets.a]\nmodel = "anthropic.claude-v2"', "max_body_bytes"),
    ],
)
def test_bad_configs_name_the_target_and_value(text, message):
    with pytest.raises(ConfigError, match=message) as info:
        config(text)
    assert str(info.value).startswith("t.toml: ")


def test_resolve_unknown_raw_and_allowed_raw():
    strict = config('[targets.a]\nmodel = "anthropic.claude-v2"')
    with pytest.raises(GatewayError) as info:
        strict.resolve("nope")
    assert info.value.code is ErrorCode.TARGET_NOT_FOUND and status_of(info.value) == 404
    with pytest.raises(GatewayError) as info:
        strict.resolve("anthropic.claude-instant-v1")
    assert info.value.code is ErrorCode.RAW_MODEL_ID_FORBIDDEN and status_of(info.value) == 403
    # A retired model: said so, with the way to keep its callers running, not a setting to flip.
    assert info.value.message == (
        "'anthropic.claude-instant-v1' reached its end of life in Bedrock on 2025-07-21, and no target of "
        "this gateway stands in for it (the gateway's operator can add it to a target's aliases)"
    )
    with pytest.raises(GatewayError) as info:
        strict.resolve("amazon.nova-pro-v1:0")
    assert info.value.code is ErrorCode.RAW_MODEL_ID_FORBIDDEN
    assert info.value.message.endswith(
        "is a raw model ID, not a configured target, and allow_raw_model_ids is false"
    )

    relaxed = config('allow_raw_model_ids = true\n[targets.a]\nmodel = "anthropic.claude-v2"')
    target = relaxed.resolve("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-instant-v1")
    assert target.raw and target.model_id.endswith("anthropic.claude-instant-v1")
    with pytest.raises(GatewayError):
        relaxed.resolve("not-a-model")


def test_defaults_merge_under_the_request_and_recurse():
    cfg = config(
        '[targets.a]\nmodel = "amazon.nova-lite-v1:0"\n'
        "[targets.a.defaults]\ninferenceConfig = { maxTokens = 100, temperature = 0.5 }\n"
        'schemaVersion = "messages-v1"\n'
    )
    target = cfg.targets["a"]
    body = {"messages": [], "inferenceConfig": {"maxTokens": 7}}
    merged = json.loads(target.prepare_body(json.dumps(body).encode(), body))
    assert merged == {
        "schemaVersion": "messages-v1",
        "messages": [],
        "inferenceConfig": {"maxTokens": 7, "temperature": 0.5},
    }
    assert target.defaults["inferenceConfig"]["maxTokens"] == 100  # defaults not mutated


def test_without_defaults_the_callers_bytes_pass_untouched():
    target = config('[targets.a]\nmodel = "anthropic.claude-v2"').targets["a"]
    raw = b'{ "prompt" : "\\n\\nHuman: hi\\n\\nAssistant:",  "max_tokens_to_sample": 5 }'
    assert target.prepare_body(raw, json.loads(raw)) is raw


def test_deep_merge_replaces_lists():
    assert deep_merge({"a": [1], "b": {"c": 1}}, {"a": [2], "b": {"d": 2}}) == {
        "a": [2],
        "b": {"c": 1, "d": 2},
    }


IAM_CASES = {
    "base": (
        'model = "anthropic.claude-v2"',
        ["arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-v2"],
    ),
    "base-arn": (
        'model = "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-v2"',
        ["arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-v2"],
    ),
    "system-profile": (
        'model = "us.meta.llama3-1-70b-instruct-v1:0"',
        [
            "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/us.meta.llama3-1-70b-instruct-v1:0",
            "arn:aws:bedrock:eu-west-1::foundation-model/meta.llama3-1-70b-instruct-v1:0",
            "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-70b-instruct-v1:0",
            "arn:aws:bedrock:us-east-2::foundation-model/meta.llama3-1-70b-instruct-v1:0",
            "arn:aws:bedrock:us-west-2::foundation-model/meta.llama3-1-70b-instruct-v1:0",
            # called from us-west-1, the US profile also routes there (the catalog's route table)
            "arn:aws:bedrock:us-west-1::foundation-model/meta.llama3-1-70b-instruct-v1:0",
        ],
    ),
    "system-profile-stated-models": (
        'model = "us.meta.llama3-1-70b-instruct-v1:0"\n'
        'models = ["arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-70b-instruct-v1:0"]',
        [
            "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/us.meta.llama3-1-70b-instruct-v1:0",
            "arn:aws:bedrock:eu-west-1::foundation-model/meta.llama3-1-70b-instruct-v1:0",
            "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-70b-instruct-v1:0",
        ],
    ),
    "global-profile": (
        'model = "global.anthropic.claude-sonnet-4-20250514-v1:0"',
        [
            "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/global.anthropic.claude-sonnet-4-20250514-v1:0",
            "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0",
            "arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0",
        ],
    ),
    "application-profile": (
        'model = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"\n'
        'models = ["arn:aws:bedrock:us-east-1::foundation-model/x.y-v1", '
        '"arn:aws:bedrock:us-west-2::foundation-model/x.y-v1"]',
        [
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
            "arn:aws:bedrock:us-east-1::foundation-model/x.y-v1",
            "arn:aws:bedrock:us-west-2::foundation-model/x.y-v1",
        ],
    ),
    "provisioned": (
        'model = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghij12"',
        ["arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghij12"],
    ),
}


@pytest.mark.parametrize("case", IAM_CASES)
def test_iam_resources_are_exact(case):
    body, expected = IAM_CASES[case]
    target = config(f"[targets.t]\n{body}\n").targets["t"]
    assert target.iam_invoke_resources("eu-west-1", "111122223333") == expected


def test_list_marks_default():
    cfg = config(
        'default_target = "b"\n[targets.a]\nmodel = "anthropic.claude-v2"\n[targets.b]\nmodel = "amazon.nova-lite-v1:0"'
    )
    assert [(t["name"], t["default"]) for t in cfg.list()] == [("a", False), ("b", True)]


def test_model_id_parsing_does_not_backtrack_on_hostile_input():
    from bedrock_gateway.core.model_ids import looks_like_model_id

    # With exponential backtracking, n=60 alone would run for years (pytest-timeout ends the run).
    for n in (30, 60, 2000):
        assert not looks_like_model_id("anthropic." + "a" * n + "_")


@pytest.mark.parametrize(
    "raw,reason",
    [
        (b'{"temperature": NaN}', "NaN is not a JSON value"),
        (b'{"temperature": Infinity}', "Infinity is not a JSON value"),
        (b'{"temperature": -Infinity}', "-Infinity is not a JSON value"),
        (b'{"temperature": 1e999}', "out of range"),
        (b'{"max_tokens": ' + b"9" * 5000 + b"}", "5000 digits is too long"),
    ],
)
def test_request_bodies_are_strict_json(raw, reason):
    from bedrock_gateway.core.prepare import parse_json_object

    with pytest.raises(GatewayError) as info:
        parse_json_object(raw)
    assert info.value.code is ErrorCode.INVALID_REQUEST and reason in info.value.message
    assert "sys.set_int_max_str_digits" not in info.value.message
