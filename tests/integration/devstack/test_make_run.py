"""`make run`'s entry point, end to end: the real command, real HTTP, every front door."""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import CLAUDE_BODY

REPO = Path(__file__).resolve().parents[3]


@dataclass
class LocalStack:
    url: str
    key: str  # the development key the banner prints
    cwd: Path  # where make run keeps .local/ (the keys CLI's --local reads it)
    https_url: str  # AWS_ENDPOINT_URL_BEDROCK_RUNTIME, as printed
    bearer: str  # AWS_BEARER_TOKEN_BEDROCK, as printed
    ca_bundle: str  # AWS_CA_BUNDLE, as printed
    emulator: str  # the embedded emulator's URL (its /_emulator/config injects faults)
    queue: str = ""  # the jobs queue's URL, for producers that send to it directly
    anthropic_url: str = ""  # ANTHROPIC_BEDROCK_BASE_URL, as printed
    ssl_cert_file: str = ""  # SSL_CERT_FILE, as printed (the Anthropic SDK's HTTP client reads it)


#: What the banner says, by name: the plain HTTP API and the SDK section's exports.
BANNER = {
    "url": re.compile(r"API\s+(http://127\.0\.0\.1:\d+)/v1"),
    "key": re.compile(r"export GATEWAY_KEY=(bgk_\S+)"),
    "https_url": re.compile(r"export AWS_ENDPOINT_URL_BEDROCK_RUNTIME=(https://127\.0\.0\.1:\d+)$"),
    "bearer": re.compile(r"export AWS_BEARER_TOKEN_BEDROCK=(bgk_\S+)$"),
    "ca_bundle": re.compile(r"export AWS_CA_BUNDLE=(\S+)$"),
    "emulator": re.compile(r"Bedrock\s+(http://127\.0\.0\.1:\d+)\s+\(embedded emulator"),
    "queue": re.compile(r"credentials\): (http://127\.0\.0\.1:\d+/\S+)$"),
    "anthropic_url": re.compile(r"export ANTHROPIC_BEDROCK_BASE_URL=(https://127\.0\.0\.1:\d+)$"),
    "ssl_cert_file": re.compile(r"export SSL_CERT_FILE=(\S+)$"),
}


def _make_run(cwd: Path, *args: str, expect: tuple[str, ...]) -> tuple[subprocess.Popen, dict[str, str]]:
    """``python -m devstack`` on free ports in ``cwd``; returns once the banner printed ``expect``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(REPO / p) for p in ("lambda_src", "local", ".")))
    for key in [k for k in env if k.startswith("AWS_ENDPOINT_URL")]:
        del env[key]
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--port", "0", "--https-port", "0", "--emulator-port", "0", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    found: dict[str, str] = {}
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while not set(expect) <= found.keys() and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if line.startswith("Try:"):
            break  # the banner's sections are behind
        for name, pattern in BANNER.items():
            if name not in found and (match := pattern.search(line.rstrip("\n"))):
                found[name] = match[1]
    if not set(expect) <= found.keys():
        process.kill()
        process.wait(timeout=15)
        pytest.fail(
            f"make run did not print {sorted(set(expect) - found.keys())} in its banner:\n" + "".join(seen)
        )
    return process, found


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM, as a supervisor sends it: make run and every process it started must go."""
    children = _children(process.pid)
    assert children, "make run starts Lambda-like handler processes"
    process.terminate()
    process.wait(timeout=15)
    deadline = time.monotonic() + 15
    while (
        alive := [pid for pid in children if Path(f"/proc/{pid}").exists()]
    ) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive, f"make run left processes behind after SIGTERM: {alive}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    logs = tmp_path_factory.mktemp("logs")
    process, found = _make_run(logs, "--concurrency", "2", expect=tuple(BANNER))
    yield LocalStack(cwd=logs, **found)
    _stop(process)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.fixture
def api(stack):
    """A client that sends the development key, as the banner says to."""
    with httpx.Client(
        base_url=stack.url, headers={"Authorization": f"Bearer {stack.key}"}, timeout=30
    ) as client:
        yield client


def test_invoke_with_the_reference_body(api):
    response = api.post("/v1/targets/claude/invoke", json=CLAUDE_BODY)
    assert response.status_code == 200
    assert response.json()["content"][0]["text"].strip()
    assert int(response.headers["x-bedrock-input-tokens"]) > 0
    assert int(response.headers["x-bedrock-output-tokens"]) > 0
    assert response.headers["x-amzn-requestid"]


def test_stream_with_the_reference_body_arrives_progressively(api):
    started = time.perf_counter()
    arrivals, text = [], ""
    with api.stream("POST", "/v1/targets/claude/stream", json=CLAUDE_BODY) as response:
        assert response.status_code == 200
        for piece in response.iter_text():
            text += piece
            arrivals.append(time.perf_counter() - started)
    assert text.count("event: chunk") > 3 and "event: done" in text
    # make run emulates 20 ms per chunk: the essay must not arrive in one piece at the end.
    assert arrivals[-1] - arrivals[0] > 0.2, arrivals


def test_jobs_round_trip_through_sqs(api):
    posted = api.post("/v1/jobs", json={"target": "claude", "jobId": "e2e-1", "body": CLAUDE_BODY})
    assert posted.status_code == 202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = api.get(posted.headers["location"]).json()
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.2)
    assert job["status"] == "succeeded", job
    assert job["result"]["content"][0]["text"]


def test_errors_are_json_through_the_adapter(api):
    response = api.post("/v1/targets/nope/invoke", json=CLAUDE_BODY)
    assert response.status_code == 404 and response.json()["error"]["code"] == "TargetNotFound"
    response = api.post("/v1/targets/claude/invoke", content=b"{broken")
    assert (
        response.status_code == 400
        and response.json()["error"]["requestId"] == response.headers["x-amzn-requestid"]
    )
    assert api.get("/v1/targets").json()["defaultTarget"] == "claude"
    assert json.loads(api.get("/v1/health").text)["status"] == "ok"


def test_no_key_or_a_wrong_key_is_a_json_401_on_every_door(stack):
    for headers in ({}, {"Authorization": "Bearer bgk_" + "x" * 43}, {"Authorization": "Basic abc"}):
        for method, path in (
            ("GET", "/v1/targets"),
            ("POST", "/v1/targets/claude/stream"),
            ("GET", "/v1/jobs/x"),
        ):
            response = httpx.request(
                method, f"{stack.url}{path}", headers=headers, json=CLAUDE_BODY, timeout=30
            )
            assert response.status_code == 401, (headers, path)
            assert response.json()["error"]["code"] == "Unauthorized"
            assert "Authorization: Bearer <gateway key>" in response.json()["error"]["message"]
            assert response.headers["www-authenticate"] == "Bearer"


def keys_cli(stack: LocalStack, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(REPO / p) for p in ("lambda_src", "local", ".")))
    return subprocess.run(
        [sys.executable, "-m", "gateway_cli", "keys", *args, "--local"],
        cwd=stack.cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_helps_keys_example_runs_against_make_run_with_no_aws_configuration(stack, tmp_path):
    help_line = next(
        line for line in (REPO / "Makefile").read_text().splitlines() if line.startswith("keys:")
    )
    args = shlex.split(re.search(r"make keys ARGS='([^']*)'", help_line)[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path), PYTHONPATH=os.pathsep.join(str(REPO / p) for p in ("lambda_src", "local", "."))
    )
    done = subprocess.run(
        [sys.executable, "-m", "gateway_cli", "keys", *args],
        cwd=stack.cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("bgk_")


def test_keys_made_with_the_cli_work_their_allowlist_holds_and_revocation_ends_them(stack):
    created = keys_cli(stack, "create", "--tenant", "nova-team", "--targets", "nova")
    assert created.returncode == 0, created.stderr
    key_id = re.search(r"key (k-[0-9a-f]{12}):", created.stdout)[1]
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("bgk_")
    headers = {"Authorization": f"Bearer {secret}"}
    nova = {"schemaVersion": "messages-v1", "messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    assert (
        httpx.post(f"{stack.url}/v1/targets/nova/invoke", json=nova, headers=headers, timeout=30).status_code
        == 200
    )
    refused = httpx.post(
        f"{stack.url}/v1/targets/claude/invoke", json=CLAUDE_BODY, headers=headers, timeout=30
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "TargetNotAllowed"

    listed = keys_cli(stack, "list", "--json")
    assert {"keyId": key_id, "tenant": "nova-team", "targets": ["nova"], "status": "active"}.items() <= next(
        k for k in json.loads(listed.stdout) if k["keyId"] == key_id
    ).items()
    assert secret not in listed.stdout

    assert keys_cli(stack, "revoke", key_id).returncode == 0
    deadline = time.monotonic() + 15  # the local authorizer cache keeps an answer 5 s
    while time.monotonic() < deadline:
        status = httpx.post(
            f"{stack.url}/v1/targets/nova/invoke", json=nova, headers=headers, timeout=30
        ).status_code
        if status == 401:
            break
        time.sleep(0.5)
    assert status == 401


def usage_rows(stack: LocalStack, until) -> dict[tuple[str, str], dict]:
    """`make usage --json` in the stack's folder, by (tenant, target), once ``until(rows)`` holds (the
    functions write their logs as they go)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(REPO / p) for p in ("lambda_src", "local", ".")))
    deadline = time.monotonic() + 15
    while True:
        done = subprocess.run(
            [sys.executable, "-m", "gateway_cli", "usage", "--json"],
            cwd=stack.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        rows = {(r["tenant"], r["target"]): r for r in json.loads(done.stdout)}
        if until(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def test_make_usage_reports_tokens_by_tenant_and_target(stack, api):
    assert api.post("/v1/targets/claude/invoke", json=CLAUDE_BODY).status_code == 200
    rows = usage_rows(stack, until=lambda rows: ("dev", "claude") in rows)
    claude = rows[("dev", "claude")]
    assert claude["invocations"] >= 1 and claude["input_tokens"] > 0 and claude["output_tokens"] > 0


def test_make_usage_counts_streamed_calls_from_the_stream_functions_log(stack):
    created = keys_cli(stack, "create", "--tenant", "stream-team", "--targets", "claude")
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    short = dict(CLAUDE_BODY, max_tokens=20)
    streamed = httpx.post(f"{stack.url}/v1/targets/claude/stream", json=short, headers=headers, timeout=60)
    assert streamed.status_code == 200 and "event: done" in streamed.text
    converse = {
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        "inferenceConfig": {"maxTokens": 20},
    }
    sdk_route = httpx.post(
        f"{stack.url}/model/claude/converse-stream", json=converse, headers=headers, timeout=60
    )
    assert sdk_route.status_code == 200

    rows = usage_rows(
        stack, until=lambda rows: rows.get(("stream-team", "claude"), {}).get("invocations") == 2
    )
    streams = rows.get(("stream-team", "claude"))
    assert streams is not None, f"make usage saw no streamed call: {rows}"
    assert streams["invocations"] == 2 and streams["input_tokens"] > 0 and streams["output_tokens"] > 0
    # As the stream function's log group would have them: Powertools JSON lines and EMF documents.
    lines = [
        json.loads(line) for line in (stack.cwd / ".local" / "logs" / "stream.log").read_text().splitlines()
    ]
    assert any(line.get("message") == "usage" and line["usage"]["door"] == "stream" for line in lines)
    assert any("_aws" in line and line.get("door") == "stream" for line in lines)


def test_the_sdk_exports_reach_the_api_over_https_with_the_printed_ca(stack):
    assert stack.bearer == stack.key  # one development key for /v1 and for the SDKs
    assert Path(stack.ca_bundle).is_absolute()
    assert Path(stack.ca_bundle) == stack.cwd / ".local" / "tls" / "ca.pem"
    state = json.loads((stack.cwd / ".local" / "stack.json").read_text())
    assert (state["https_api"], state["ca_bundle"]) == (stack.https_url, stack.ca_bundle)
    assert Path(state["targets_file"]).is_file()  # what `make keys --local` checks target names against
    context = ssl.create_default_context(cafile=stack.ca_bundle)
    context.verify_flags |= ssl.VERIFY_X509_STRICT  # as Python 3.13+ verifies by default
    response = httpx.get(
        f"{stack.https_url}/v1/health",
        headers={"Authorization": f"Bearer {stack.bearer}"},
        verify=context,
        timeout=30,
    )
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_with_auth_none_the_banner_still_gives_sdks_a_development_key(tmp_path):
    process, found = _make_run(
        tmp_path, "--auth", "none", "--concurrency", "1", expect=("url", "https_url", "bearer", "ca_bundle")
    )
    try:
        assert "key" not in found  # no GATEWAY_KEY: /v1 asks for none
        assert httpx.get(f"{found['url']}/v1/targets", timeout=30).status_code == 200
        listed = keys_cli(LocalStack(cwd=tmp_path, key="", **found), "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert [k["tenant"] for k in json.loads(listed.stdout)] == ["dev"]
    finally:
        _stop(process)
    # Stopped, it leaves no state behind for `make keys --local` to reach for.
    assert not (tmp_path / ".local" / "stack.json").exists()


@pytest.mark.parametrize(
    ("option", "setting"),
    [("--port", "PORT"), ("--https-port", "HTTPS_PORT"), ("--emulator-port", "EMULATOR_PORT")],
)
def test_a_port_already_taken_is_one_line_naming_the_setting_that_moves_it(tmp_path, option, setting):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(REPO / p) for p in ("lambda_src", "local", ".")))
    with socket.socket() as taken:  # another make run, say
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = {"--port": "0", "--https-port": "0", "--emulator-port": "0", option: str(port)}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "devstack",
                "--bedrock",
                "emulator",
                *(a for kv in ports.items() for a in kv),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert f"pick another port, e.g. {setting}={port + 1}" in done.stderr


# ---- AWS SDKs, unchanged, with the banner's exports (the Bedrock-compatible routes over HTTPS) ----

#: The program from the issue that asked for the drop-in endpoint, byte for byte: Claude 2 era code.
REFERENCE_PROGRAM = """\
import boto3, json
brt = boto3.client(service_name='bedrock-runtime')
body = json.dumps({'prompt': '\\n\\nHuman: write an essay for living on mars in 1000 words\\n\\nAssistant:', 'max_tokens_to_sample': 4000})
response = brt.invoke_model_with_response_stream(modelId='anthropic.claude-v2', body=body)
stream = response.get('body')
if stream:
    for event in stream:
        chunk = event.get('chunk')
        if chunk:
            print(json.loads(chunk.get('bytes').decode()))
"""  # noqa: E501


def sdk_environment(stack: LocalStack, home: Path) -> dict[str, str]:
    """A shell with nothing AWS in it but what the banner says to export (and an empty home: no
    ~/.aws credentials or config to lean on)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("PYTHONPATH",)}
    env.update(
        HOME=str(home),
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME=stack.https_url,
        AWS_BEARER_TOKEN_BEDROCK=stack.bearer,
        AWS_CA_BUNDLE=stack.ca_bundle,
        AWS_DEFAULT_REGION="us-east-1",  # the banner's `${AWS_DEFAULT_REGION:-us-east-1}`
    )
    return env


@pytest.fixture
def sdk_env(stack, tmp_path, monkeypatch):
    """This process's environment as `sdk_environment`, for in-process SDK clients."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in sdk_environment(stack, tmp_path).items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def emulator_faults(stack):
    """Configure the make run stack's emulator; cleared afterwards."""

    def configure(**settings):
        httpx.post(f"{stack.emulator}/_emulator/config", json={"model": "*", **settings}, timeout=10)

    yield configure
    httpx.post(f"{stack.emulator}/_emulator/reset", timeout=10)


def test_the_claude_2_program_runs_unchanged_through_an_alias(stack, tmp_path):
    program = tmp_path / "essay.py"
    program.write_text(REFERENCE_PROGRAM)
    result = subprocess.run(
        [sys.executable, str(program)],
        env=sdk_environment(stack, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    chunks = [ast.literal_eval(line) for line in result.stdout.splitlines()]
    assert len(chunks) > 10
    for chunk in chunks[:-1]:
        assert set(chunk) == {"completion", "stop_reason", "stop"} and chunk["stop_reason"] is None
    assert chunks[-1]["stop_reason"] in ("stop_sequence", "max_tokens")
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] > 0
    assert "".join(chunk["completion"] for chunk in chunks).strip()


def test_boto3_invoke_converse_and_converse_stream_on_a_target_name(stack, sdk_env):
    import boto3

    runtime = boto3.client("bedrock-runtime")
    answer = runtime.invoke_model(modelId="claude", body=json.dumps(CLAUDE_BODY))
    assert json.loads(answer["body"].read())["content"][0]["text"].strip()
    headers = answer["ResponseMetadata"]["HTTPHeaders"]
    assert int(headers["x-amzn-bedrock-output-token-count"]) > 0

    messages = [{"role": "user", "content": [{"text": "Describe Mars in a sentence."}]}]
    reply = runtime.converse(modelId="claude", messages=messages, inferenceConfig={"maxTokens": 100})
    assert reply["output"]["message"]["content"][0]["text"] and reply["usage"]["outputTokens"] > 0
    events = list(runtime.converse_stream(modelId="haiku", messages=messages)["stream"])
    assert "messageStart" in events[0] and "metadata" in events[-1]
    assert any("contentBlockDelta" in event for event in events)


def test_langchain_aws_invoke_stream_and_converse_through_make_run(stack, sdk_env):
    from langchain_aws import ChatBedrock, ChatBedrockConverse

    chat = ChatBedrock(model_id="haiku", provider="anthropic", model_kwargs={"max_tokens": 100})
    assert chat.invoke("Describe Mars in a sentence.").content
    assert "".join(chunk.content for chunk in chat.stream("Describe Mars in a sentence."))
    converse = ChatBedrockConverse(
        model="claude", provider="anthropic", base_model_id="anthropic.claude-sonnet-4-6", max_tokens=100
    )
    assert converse.invoke("Describe Mars in a sentence.").content
    assert "".join(chunk.text for chunk in converse.stream("Describe Mars in a sentence."))


def test_throttling_and_mid_stream_errors_raise_the_sdks_exceptions(stack, sdk_env, emulator_faults):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import EventStreamError

    runtime = boto3.client("bedrock-runtime", config=Config(retries={"total_max_attempts": 1}))
    emulator_faults(error={"type": "ThrottlingException", "when": "before"})
    with pytest.raises(runtime.exceptions.ThrottlingException) as throttled:
        runtime.invoke_model(modelId="claude", body=json.dumps(CLAUDE_BODY))
    request_id = throttled.value.response["ResponseMetadata"]["RequestId"]
    assert request_id and "," not in request_id  # one x-amzn-RequestId header, as API Gateway sends

    emulator_faults(error={"type": "ModelStreamErrorException", "when": "after_chunks", "after_chunks": 3})
    response = runtime.invoke_model_with_response_stream(modelId="claude", body=json.dumps(CLAUDE_BODY))
    received = []
    with pytest.raises(EventStreamError) as raised:
        for event in response["body"]:
            received.append(event)
    assert len(received) == 3
    assert raised.value.response["Error"]["Code"] == "modelStreamErrorException"


def test_the_sdk_routes_refuse_a_missing_or_wrong_key(stack, sdk_env, monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bgk_" + "x" * 43)
    with pytest.raises(boto3.client("bedrock-runtime").exceptions.AccessDeniedException):
        boto3.client("bedrock-runtime").invoke_model(modelId="claude", body=json.dumps(CLAUDE_BODY))


#: Bedrock's InvokeModel takes Claude bodies with this version (AWS, "Inference using Anthropic
#: Messages API"); anthropic 2.x fills in its own API version unless the body names one.
BEDROCK_ANTHROPIC_VERSION = {"anthropic_version": "bedrock-2023-05-31"}


@pytest.fixture
def anthropic_env(stack, sdk_env, monkeypatch):
    """The banner's exports for the Anthropic SDK, on top of the AWS SDK's."""
    assert (stack.anthropic_url, stack.ssl_cert_file) == (stack.https_url, stack.ca_bundle)
    monkeypatch.setenv("ANTHROPIC_BEDROCK_BASE_URL", stack.anthropic_url)
    monkeypatch.setenv("SSL_CERT_FILE", stack.ssl_cert_file)


def test_the_anthropic_sdks_bedrock_client_with_the_banners_exports(stack, anthropic_env, emulator_faults):
    import anthropic

    client = anthropic.AnthropicBedrock(max_retries=0)  # key, URL, CA and region from the environment
    ask = {"max_tokens": 100, "messages": [{"role": "user", "content": "Describe Mars in a sentence."}]}
    message = client.messages.create(model="claude", extra_body=BEDROCK_ANTHROPIC_VERSION, **ask)
    assert message.content[0].text.strip() and message.usage.output_tokens > 0
    with client.messages.stream(model="haiku", extra_body=BEDROCK_ANTHROPIC_VERSION, **ask) as stream:
        streamed = "".join(stream.text_stream)
        assert streamed.strip() and stream.get_final_message().stop_reason in ("end_turn", "max_tokens")
    # An alias is the retired model's ID; a tool call comes back as the SDK's tool_use block.
    weather = {
        "name": "get_weather",
        "description": "The weather in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    called = client.messages.create(
        model="anthropic.claude-v2",
        tools=[weather],
        tool_choice={"type": "tool", "name": "get_weather"},
        extra_body=BEDROCK_ANTHROPIC_VERSION,
        **ask,
    )
    assert called.stop_reason == "tool_use" and called.content[-1].type == "tool_use"

    # Errors are the SDK's own exceptions, from the status and Bedrock's {"message": ...}.
    with pytest.raises(anthropic.BadRequestError, match="unknown target"):
        client.messages.create(model="no-such-target", extra_body=BEDROCK_ANTHROPIC_VERSION, **ask)
    emulator_faults(error={"type": "ThrottlingException", "when": "before"})
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="claude", extra_body=BEDROCK_ANTHROPIC_VERSION, **ask)
    emulator_faults(error={"type": "ModelStreamErrorException", "when": "after_chunks", "after_chunks": 3})
    with pytest.raises(anthropic.APIStatusError, match="modelStreamErrorException"):
        with client.messages.stream(model="claude", extra_body=BEDROCK_ANTHROPIC_VERSION, **ask) as stream:
            "".join(stream.text_stream)
    with pytest.raises(anthropic.AuthenticationError, match="no valid gateway key"):
        anthropic.AnthropicBedrock(api_key="bgk_" + "x" * 43, max_retries=0).messages.create(
            model="claude", extra_body=BEDROCK_ANTHROPIC_VERSION, **ask
        )


def test_a_producer_sends_to_the_printed_queue_with_any_credentials_and_the_job_runs(stack):
    import boto3

    endpoint = stack.queue.split("/", 3)[
        :3
    ]  # the queue's origin: moto's endpoint, which the banner prints too
    sqs = boto3.client(
        "sqs",
        region_name="us-east-1",
        aws_access_key_id="any",
        aws_secret_access_key="any",
        endpoint_url="/".join(endpoint),
    )
    job = {"jobId": f"direct-{time.time_ns()}", "target": "claude", "body": CLAUDE_BODY}
    message_id = sqs.send_message(QueueUrl=stack.queue, MessageBody=json.dumps(job))["MessageId"]
    worker_log = stack.cwd / ".local" / "logs" / "worker.log"
    deadline = time.monotonic() + 60
    answered: list[str] = []
    while time.monotonic() < deadline and not answered:
        lines = worker_log.read_text().splitlines() if worker_log.exists() else []
        # The job's lines carry its message id as their correlation id: its usage line is its answer.
        answered = [line for line in lines if message_id in line and '"message":"usage"' in line]
        time.sleep(0.5)
    assert answered and '"target":"claude"' in answered[0]
