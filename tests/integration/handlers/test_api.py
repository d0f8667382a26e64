"""The sync API through the real Lambda handler, real boto3 and the Bedrock emulator on the wire."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from bedrock_gateway import settings
from bedrock_gateway.core.targets import parse_targets

from tests.integration.conftest import CLAUDE_BODY, CLAUDE_MODEL

ACCOUNT = "123456789012"
MESSAGES = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 60,
    "messages": [{"role": "user", "content": "Name three moons of Jupiter."}],
}

NOVA = {"schemaVersion": "messages-v1", "messages": [{"role": "user", "content": [{"text": "hello"}]}]}
CHAT = {"messages": [{"role": "user", "content": "hello there"}], "max_tokens": 40}

# target -> (request body, a key the model family's native response carries)
FAMILIES = {
    "claude": (CLAUDE_BODY, "content"),
    "haiku": (MESSAGES, "content"),
    "team-a": (MESSAGES, "content"),
    "tuned": (NOVA, "output"),
    "nova": (NOVA, "output"),
    "llama": ({"prompt": "hello there", "max_gen_len": 40}, "generation"),
    "mistral": (CHAT, "choices"),
    "gptoss": (CHAT, "choices"),
    "deepseek": ({"prompt": "hello there", "max_tokens": 40}, "choices"),
    "titan": ({"inputText": "hello there", "textGenerationConfig": {"maxTokenCount": 40}}, "results"),
    "embed": ({"inputText": "embed me"}, "embedding"),
}


@pytest.mark.parametrize("target", FAMILIES)
def test_every_configured_target_answers_in_its_native_format(call_api, target):
    body, key = FAMILIES[target]
    response = call_api("POST", f"/v1/targets/{target}/invoke", body)
    assert response.status == 200, response.body
    assert key in response.json()
    assert response.headers["x-target"] == target
    assert int(response.headers["x-bedrock-input-tokens"]) > 0
    assert "x-bedrock-output-tokens" in response.headers
    assert int(response.headers["x-bedrock-latency-ms"]) >= 0
    assert response.headers["content-type"] == "application/json"


def test_reference_claude_call_returns_completion_and_token_headers(call_api, emu):
    response = call_api("POST", "/v1/targets/claude/invoke", CLAUDE_BODY)
    assert response.status == 200
    payload = response.json()
    assert payload["content"][0]["text"].strip()
    assert payload["stop_reason"] in ("end_turn", "max_tokens")
    assert response.headers["x-model-id"] == CLAUDE_MODEL
    assert int(response.headers["x-bedrock-output-tokens"]) == payload["usage"]["output_tokens"]


def test_response_body_is_bedrocks_bytes_unchanged(call_api, emu):
    import boto3

    body = json.dumps({"prompt": "Tell me about Mars", "max_gen_len": 300}).encode()
    direct = boto3.client("bedrock-runtime").invoke_model(
        modelId="us.meta.llama3-3-70b-instruct-v1:0", body=body
    )
    via_api = call_api("POST", "/v1/targets/llama/invoke", body)
    assert via_api.body == direct["body"].read()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_defaults_are_merged_under_the_request_body(call_api, emu, api_module):
    body = {"messages": [{"role": "user", "content": "hi"}]}
    assert call_api("POST", "/v1/targets/claude/invoke", body).status == 200
    defaults = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1024}
    merged = json.dumps({**defaults, **body}, separators=(",", ":")).encode()
    assert emu.counters()["bodies"][_sha(merged)]["succeeded"] == 1

    override = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    response = call_api("POST", "/v1/targets/claude/invoke", override)
    assert int(response.headers["x-bedrock-output-tokens"]) <= 3


def test_without_defaults_the_exact_request_bytes_reach_bedrock(call_api, emu):
    raw = b'{"prompt":  "hello",   "max_gen_len": 5}'
    assert call_api("POST", "/v1/targets/llama/invoke", raw).status == 200
    assert emu.counters()["bodies"][_sha(raw)]["succeeded"] == 1


def test_target_options_reach_bedrock_as_headers(call_api, emu):
    response = call_api("POST", "/v1/targets/team-a/invoke", MESSAGES)
    assert response.status == 200
    counters = emu.counters()
    profile = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/a1b2c3d4e5f6"
    assert counters["models"][profile]["succeeded"] == 1


def test_list_targets_reports_kind_model_streaming_and_default(call_api, emu):
    response = call_api("GET", "/v1/targets")
    assert response.status == 200
    targets = {t["name"]: t for t in response.json()["targets"]}
    assert response.json()["defaultTarget"] == "claude"
    assert targets["claude"] == {
        "name": "claude",
        "kind": "inference-profile",
        "model": CLAUDE_MODEL,
        "streaming": True,
        "default": True,
        "description": settings.targets().targets["claude"].description,
    }
    assert targets["claude"]["description"]  # the config describes it
    assert targets["team-a"]["kind"] == "application-inference-profile"
    assert targets["team-a"]["streaming"] is True  # resolved through GetInferenceProfile + GetFoundationModel
    assert targets["tuned"]["streaming"] is False  # stated in config
    assert targets["embed"]["streaming"] is False  # from the catalog of record
    # Base models and system profiles are answered by the catalog: only the application profile, which
    # hides its model, costs control-plane calls.
    assert emu.counters()["control_plane"] == {"GetInferenceProfile": 1, "GetFoundationModel": 1}


def test_health_makes_no_bedrock_call(call_api, emu):
    response = call_api("GET", "/v1/health")
    assert response.status == 200 and response.json()["status"] == "ok"
    assert emu.counters()["calls"] == 0


def _assert_error(response, status: int, code: str):
    assert response.status == status, response.body
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["requestId"]
    assert "Traceback" not in response.body.decode()
    return error


@pytest.mark.parametrize(
    "body,message",
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_malformed_bodies_are_400(call_api, emu, body, message):
    error = _assert_error(call_api("POST", "/v1/targets/claude/invoke", body), 400, "InvalidRequest")
    assert message in error["message"]
    assert emu.counters()["calls"] == 0


def test_body_in_another_familys_format_is_bedrocks_validation_400(call_api):
    error = _assert_error(
        call_api("POST", "/v1/targets/llama/invoke", {"inputText": "titan-style"}), 400, "ValidationException"
    )
    assert "Malformed input request" in error["message"]


def test_unknown_target_is_404(call_api, emu):
    _assert_error(call_api("POST", "/v1/targets/nope/invoke", CLAUDE_BODY), 404, "TargetNotFound")
    assert emu.counters()["calls"] == 0


def test_unknown_route_is_json_404(call_api):
    _assert_error(call_api("GET", "/v1/nothing-here"), 404, "NotFound")


def test_raw_model_id_refused_by_default(call_api, emu):
    _assert_error(
        call_api("POST", "/v1/targets/anthropic.claude-3-haiku-20240307-v1:0/invoke", CLAUDE_BODY),
        403,
        "RawModelIdNotAllowed",
    )
    arn = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2"
    _assert_error(call_api("POST", f"/v1/targets/{arn}/invoke", CLAUDE_BODY), 403, "RawModelIdNotAllowed")
    assert emu.counters()["calls"] == 0


@pytest.fixture
def allow_raw(replace_config):
    replace_config(allow_raw_model_ids=True)


LLAMA = {"prompt": "hi", "max_gen_len": 20}
RAW_IDS = {
    "base model ID": ("meta.llama3-8b-instruct-v1:0", LLAMA, "generation"),
    "foundation-model ARN": (
        "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-8b-instruct-v1:0",
        LLAMA,
        "generation",
    ),
    "system profile ID": ("us.anthropic.claude-haiku-4-5-20251001-v1:0", MESSAGES, "content"),
    "system profile ARN": (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0",
        MESSAGES,
        "content",
    ),
    "application profile ARN": (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/a1b2c3d4e5f6",
        MESSAGES,
        "content",
    ),
    "provisioned ARN": (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/abcdefghij12",
        NOVA,
        "output",
    ),
    "provisioned ARN of a custom model": (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/cu5t0mpt0001",
        {"inputText": "hi"},
        "results",
    ),
    "custom model deployment ARN": (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model-deployment/d3pl0ym3nt01",
        {"inputText": "hi"},
        "results",
    ),
    "imported model ARN": (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:imported-model/1mp0rt3dl1am",
        {"prompt": "hi", "max_gen_len": 20},
        "generation",
    ),
}


@pytest.mark.parametrize("kind", RAW_IDS)
def test_every_identifier_kind_when_raw_ids_are_allowed(call_api, allow_raw, kind):
    model_id, body, key = RAW_IDS[kind]
    response = call_api("POST", f"/v1/targets/{model_id}/invoke", body)
    assert response.status == 200, response.body
    assert key in response.json()
    assert response.headers["x-model-id"] == model_id


def test_url_encoded_arn_target(call_api, allow_raw):
    from urllib.parse import quote

    arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/a1b2c3d4e5f6"
    response = call_api("POST", f"/v1/targets/{quote(arn, safe='')}/invoke", MESSAGES)
    assert response.status == 200 and response.headers["x-model-id"] == arn


def test_raw_text_that_is_no_model_id_is_still_404_when_allowed(call_api, allow_raw):
    _assert_error(call_api("POST", "/v1/targets/gpt4/invoke", CLAUDE_BODY), 404, "TargetNotFound")


def test_body_over_the_limit_is_413(call_api, replace_config, emu):
    replace_config(max_body_bytes=1000)
    big = dict(CLAUDE_BODY, messages=[{"role": "user", "content": "x" * 2000}])
    error = _assert_error(call_api("POST", "/v1/targets/claude/invoke", big), 413, "PayloadTooLarge")
    assert "1000" in error["message"]
    assert emu.counters()["calls"] == 0


def test_default_limit_is_one_mebibyte(call_api):
    big = dict(CLAUDE_BODY, messages=[{"role": "user", "content": "x" * (1024 * 1024)}])
    _assert_error(call_api("POST", "/v1/targets/claude/invoke", big), 413, "PayloadTooLarge")


BEDROCK_ERRORS = [
    ("ThrottlingException", 429, True),
    ("ServiceQuotaExceededException", 429, True),
    ("ModelErrorException", 502, False),
    ("AccessDeniedException", 502, False),
    ("ResourceNotFoundException", 502, False),
    ("ModelNotReadyException", 503, True),
    ("ServiceUnavailableException", 503, True),
    ("ModelTimeoutException", 504, False),
    ("ValidationException", 400, False),
    ("InternalServerException", 502, False),
]


@pytest.mark.parametrize("error_type,status,retry_after", BEDROCK_ERRORS)
def test_bedrock_errors_map_to_the_documented_statuses(call_api, emu, error_type, status, retry_after):
    emu.configure(model=CLAUDE_MODEL, error={"type": error_type, "when": "before"})
    response = call_api("POST", "/v1/targets/claude/invoke", CLAUDE_BODY)
    _assert_error(response, status, error_type)
    assert ("retry-after" in response.headers) is retry_after
    if retry_after:
        assert int(response.headers["retry-after"]) > 0


def test_throttling_is_retried_within_the_sync_budget(call_api, emu, sync_attempts):
    emu.configure(model=CLAUDE_MODEL, throttle_every=2)  # calls 2, 4, ... are throttled
    statuses = [call_api("POST", "/v1/targets/claude/invoke", CLAUDE_BODY).status for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert emu.counters()["models"][CLAUDE_MODEL]["calls"] == 5  # two throttled, retried


def test_persistent_throttling_gives_up_after_three_attempts(call_api, emu, sync_attempts):
    emu.configure(model=CLAUDE_MODEL, throttle_every=1)
    _assert_error(call_api("POST", "/v1/targets/claude/invoke", CLAUDE_BODY), 429, "ThrottlingException")
    assert emu.counters()["models"][CLAUDE_MODEL]["calls"] == 3


@pytest.mark.parametrize("body", [b'{"a":' * 100_000 + b"1" + b"}" * 100_000, b"[" * 50_000 + b"]" * 50_000])
def test_deeply_nested_json_is_400(call_api, replace_config, body):
    replace_config(max_body_bytes=1_000_000)
    _assert_error(call_api("POST", "/v1/targets/claude/invoke", body), 400, "InvalidRequest")


@pytest.fixture
def sync_attempts(monkeypatch):
    """Let the sync path use its real retry budget (the session caps it at one attempt)."""
    from bedrock_gateway import settings

    monkeypatch.setattr(settings, "SYNC_ATTEMPTS", 3)
    return settings


def test_a_read_timeout_is_a_504_and_never_retried(call_api, emu, sync_attempts, monkeypatch):
    from bedrock_gateway.core.clients import CallBudget

    monkeypatch.setattr(sync_attempts, "SYNC_BUDGET", CallBudget(read_timeout=1))
    emu.configure(model=CLAUDE_MODEL, ttft_ms=1500)
    _assert_error(call_api("POST", "/v1/targets/claude/invoke", CLAUDE_BODY), 504, "ModelTimeoutException")
    assert emu.counters()["models"][CLAUDE_MODEL]["calls"] == 1


def test_no_retry_starts_that_could_outlive_the_function(api_module, emu, sync_attempts):
    from devstack.apigw import LambdaContext, build_event, response_parts

    emu.configure(model=CLAUDE_MODEL, throttle_every=1)
    event = build_event(
        "POST",
        "/v1/targets/claude/invoke",
        "",
        [("Content-Type", "application/json")],
        json.dumps(CLAUDE_BODY).encode(),
    )
    # 10 s left: a retry (25 s read timeout) could not finish in time, so the 429 comes back at once.
    status, _, _ = response_parts(api_module.handler(event, LambdaContext(timeout_ms=10_000)))
    assert status == 429
    assert emu.counters()["models"][CLAUDE_MODEL]["calls"] == 1


def test_unexpected_failure_is_500_without_a_stack_trace(call_api, api_module, monkeypatch, caplog):
    from bedrock_gateway.core import bedrock

    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(bedrock, "invoke", explode)
    response = call_api("POST", "/v1/targets/claude/invoke", CLAUDE_BODY)
    error = _assert_error(response, 500, "InternalError")
    assert "secret" not in response.body.decode()
    assert any(
        r.getMessage() == "unexpected error" and r.exc_info for r in caplog.records
    )  # logged, with the trace
    assert api_module.logger.get_correlation_id() == error["requestId"]  # ... under the request id


def test_unreachable_bedrock_is_503(call_api, monkeypatch):
    from bedrock_gateway.core import bedrock

    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:9")
    bedrock.reset()
    try:
        _assert_error(call_api("POST", "/v1/targets/claude/invoke", CLAUDE_BODY), 503, "BedrockUnreachable")
    finally:
        monkeypatch.undo()
        bedrock.reset()


def test_metrics_are_emitted_per_target(call_api, capsys):
    assert call_api("POST", "/v1/targets/claude/invoke", CLAUDE_BODY).status == 200
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    invocation = next(doc for doc in emf if "InputTokens" in doc)
    assert invocation["Target"] == "claude"
    assert invocation["InputTokens"][0] > 0 and invocation["OutputTokens"][0] > 0
    assert invocation["Invocations"] == [1.0]


def test_bad_config_fails_the_cold_start(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "targets.toml"
    bad.write_text('[targets.broken]\nmodel = "gpt-4o"\n')
    result = subprocess.run(
        [sys.executable, "-c", "import bedrock_gateway.handlers.api"],
        capture_output=True,
        text=True,
        env={"TARGETS_FILE": str(bad), "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )
    assert result.returncode != 0
    assert "target 'broken': model 'gpt-4o' is invalid" in result.stderr


def test_parse_targets_is_what_the_handler_uses(api_module):
    from bedrock_gateway import settings

    config = settings.targets()
    text = open(config.source).read()
    assert parse_targets(text, config.source) == config


def test_listing_targets_stays_fast_when_the_control_plane_is_down(call_api, monkeypatch):
    import socket

    from bedrock_gateway.core import bedrock
    from bedrock_gateway.core.bedrock import capabilities
    from bedrock_gateway.core.clients import CallBudget

    # A control plane that accepts connections and never answers: every lookup runs into its timeout.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(64)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", f"http://127.0.0.1:{blackhole.getsockname()[1]}")
    monkeypatch.setattr(capabilities, "CONTROL_BUDGET", CallBudget(read_timeout=0.5, connect_timeout=0.5))
    bedrock.reset()
    try:
        started = time.perf_counter()
        response = call_api("GET", "/v1/targets")
        first = time.perf_counter() - started
        assert response.status == 200
        targets = {t["name"]: t["streaming"] for t in response.json()["targets"]}
        unknown = [name for name, streaming in targets.items() if streaming is None]
        assert unknown == ["team-a"]  # unknown, said so: not a 500, not a guess
        assert targets["tuned"] is False  # stated in config
        assert targets["claude"] is True and targets["embed"] is False  # the catalog needs no control plane
        # One lookup timed out (GetInferenceProfile, then no retry within the budget's attempts).
        assert first < 3.0, first
        started = time.perf_counter()
        assert call_api("GET", "/v1/targets").status == 200
        assert time.perf_counter() - started < 0.4  # paused: no lookup at all
    finally:
        monkeypatch.undo()
        bedrock.reset()
        blackhole.close()


def test_the_openapi_document_is_served(call_api):
    from bedrock_gateway.edge import openapi
    from bedrock_gateway.edge.routes import ROUTES

    response = call_api("GET", "/v1/openapi.json")
    assert response.status == 200
    document = response.json()
    assert document == openapi.document()
    served = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert served == {(route.method, route.path) for route in ROUTES}


def test_a_wrong_method_on_a_route_is_405_not_404(call_api):
    response = call_api("GET", "/v1/targets/claude/invoke")
    assert response.status == 405 and response.json()["error"]["code"] == "MethodNotAllowed"
    assert call_api("GET", "/v1/nothing-here").status == 404
