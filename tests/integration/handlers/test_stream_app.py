"""The stream endpoint over real HTTP (uvicorn), real boto3 and the emulator's event stream."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from bedrock_gateway import settings

from tests.integration.conftest import CLAUDE_BODY, CLAUDE_MODEL
from tests.integration.handlers.test_api import FAMILIES, MESSAGES

LLAMA_MODEL = "us.meta.llama3-3-70b-instruct-v1:0"
STREAMING_TARGETS = ["claude", "haiku", "team-a", "nova", "llama", "mistral", "gptoss", "deepseek", "titan"]


def parse_sse(text: str) -> list[tuple[str, str]]:
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        events.append((name, "\n".join(data)))
    return events


def post_stream(url: str, target: str, body, accept: str | None = None, timeout: float = 30):
    headers = {"Content-Type": "application/json"}
    if accept:
        headers["Accept"] = accept
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{url}/v1/targets/{target}/stream", content=content, headers=headers, timeout=timeout)


def direct_chunks(model_id: str, body: dict) -> list[bytes]:
    import boto3

    response = boto3.client("bedrock-runtime").invoke_model_with_response_stream(
        modelId=model_id, body=json.dumps(body)
    )
    return [event["chunk"]["bytes"] for event in response["body"] if "chunk" in event]


@pytest.mark.parametrize("target", STREAMING_TARGETS)
def test_sse_forwards_every_chunk_unmodified_then_done(stream_url, emu, target):
    body = FAMILIES[target][0]
    response = post_stream(stream_url, target, body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-stream-mode"] == "stream"
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"chunk"} and len(names) > 2
    done = json.loads(events[-1][1])
    assert done["inputTokenCount"] > 0 and done["outputTokenCount"] > 0
    assert done["firstByteLatency"] is not None and done["invocationLatency"] is not None
    assert done["timeToFirstChunkMs"] >= 0 and done["chunks"] == len(events) - 1
    assert done["target"] == target


def test_chunks_are_bedrocks_bytes(stream_url, emu):
    body = {"prompt": "hello mars", "max_gen_len": 30}
    expected = direct_chunks("us.meta.llama3-3-70b-instruct-v1:0", body)
    events = parse_sse(post_stream(stream_url, "llama", body).text)
    forwarded = [data.encode() for name, data in events if name == "chunk"]
    assert forwarded[:-1] == expected[:-1]

    # The last chunk carries timing metrics, which differ between two calls; the rest must match.
    def strip(raw):
        return {k: v for k, v in json.loads(raw).items() if k != "amazon-bedrock-invocationMetrics"}

    assert strip(forwarded[-1]) == strip(expected[-1])


def test_ndjson_gives_one_object_per_line(stream_url, emu):
    response = post_stream(stream_url, "haiku", MESSAGES, accept="application/x-ndjson")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["event"] for line in lines][-1] == "done"
    assert {line["event"] for line in lines[:-1]} == {"chunk"}
    assert lines[0]["data"]["type"] == "message_start"


@pytest.mark.parametrize("accept", [None, "application/x-ndjson"])
def test_first_chunk_arrives_before_the_second_is_produced(stream_url, emu, accept):
    emu.configure(model=LLAMA_MODEL, chunk_delay_ms=400, output_tokens=6, tokens_per_chunk=1)
    headers = {"Content-Type": "application/json", **({"Accept": accept} if accept else {})}
    arrivals = []
    started = time.perf_counter()
    with httpx.stream(
        "POST",
        f"{stream_url}/v1/targets/llama/stream",
        content=json.dumps({"prompt": "hello mars", "max_gen_len": 30}),
        headers=headers,
        timeout=30,
    ) as response:
        assert response.status_code == 200
        buffer = b""
        for piece in response.iter_raw():
            buffer += piece
            separator = b"\n" if accept else b"\n\n"
            while separator in buffer:
                frame, buffer = buffer.split(separator, 1)
                if frame.startswith((b"event: chunk", b'{"event":"chunk"')):
                    arrivals.append(time.perf_counter() - started)
    # Text chunks 400 ms apart, then the closing chunk with the invocation metrics right after the last.
    text = arrivals[:-1]
    assert len(text) >= 3, arrivals
    # Arriving together would mean buffering somewhere.
    assert arrivals[0] < 0.35, arrivals
    assert all(later - earlier > 0.25 for earlier, later in zip(text, text[1:], strict=False)), arrivals


@pytest.mark.parametrize("target", ["embed", "tuned"])
def test_targets_that_cannot_stream_fall_back_to_one_chunk(stream_url, emu, target):
    body = FAMILIES[target][0]
    response = post_stream(stream_url, target, body)
    assert response.status_code == 200, response.text
    assert response.headers["x-stream-mode"] == "invoke-fallback"
    events = parse_sse(response.text)
    assert [name for name, _ in events] == ["chunk", "done"]
    assert FAMILIES[target][1] in json.loads(events[0][1])
    assert json.loads(events[1][1])["inputTokenCount"] > 0
    assert emu.counters()["operations"].get("InvokeModelWithResponseStream", 0) == 0


def test_streaming_support_of_catalogued_models_costs_no_control_plane_call(stream_url, emu):
    for target in ("claude", "embed"):  # a system profile that streams, a base model that cannot
        assert post_stream(stream_url, target, FAMILIES[target][0]).status_code == 200
    assert emu.counters()["control_plane"] == {}  # no GetFoundationModel: the catalog of record answered
    assert emu.counters()["operations"]["InvokeModelWithResponseStream"] == 1


def test_unknown_streaming_support_falls_back_when_bedrock_refuses(stream_url, emu, monkeypatch):
    from bedrock_gateway.handlers import stream_app

    embed = settings.targets().targets["embed"]
    monkeypatch.setattr(stream_app.bedrock, "streaming_supported", lambda target: None)
    response = post_stream(stream_url, "embed", FAMILIES["embed"][0])
    assert response.headers["x-stream-mode"] == "invoke-fallback"
    assert [name for name, _ in parse_sse(response.text)] == ["chunk", "done"]
    # Not knowing, it tried to stream first; Bedrock refused, and one InvokeModel answered.
    assert emu.counters()["models"][embed.model_id] == {"calls": 2, "succeeded": 1}


def test_mid_stream_throttling_becomes_an_error_event(stream_url, emu):
    emu.configure(
        model=CLAUDE_MODEL,
        error={"type": "ThrottlingException", "when": "after_chunks", "after_chunks": 3},
    )
    response = post_stream(stream_url, "claude", CLAUDE_BODY)
    assert response.status_code == 200
    events = parse_sse(response.text)
    assert [name for name, _ in events] == ["chunk"] * 3 + ["error"]
    error = json.loads(events[-1][1])["error"]
    assert error["code"] == "ThrottlingException" and error["requestId"]


def test_error_before_the_first_chunk_is_a_normal_http_error(stream_url, emu):
    emu.configure(model=CLAUDE_MODEL, error={"type": "ThrottlingException", "when": "before"})
    response = post_stream(stream_url, "claude", CLAUDE_BODY)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "ThrottlingException"
    assert int(response.headers["retry-after"]) > 0


def test_stream_exception_before_any_chunk_is_a_normal_http_error(stream_url, emu):
    emu.configure(
        model=CLAUDE_MODEL,
        error={"type": "ModelTimeoutException", "when": "after_chunks", "after_chunks": 0},
    )
    response = post_stream(stream_url, "claude", CLAUDE_BODY)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "ModelTimeoutException"


@pytest.mark.parametrize(
    "target,body,status,code",
    [
        ("nope", CLAUDE_BODY, 404, "TargetNotFound"),
        ("anthropic.claude-3-haiku-20240307-v1:0", CLAUDE_BODY, 403, "RawModelIdNotAllowed"),
        ("claude", b"{oops", 400, "InvalidRequest"),
        ("llama", {"inputText": "wrong family"}, 400, "ValidationException"),
    ],
)
def test_client_errors_are_json_before_any_stream(stream_url, emu, target, body, status, code):
    response = post_stream(stream_url, target, body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert response.headers["x-amzn-requestid"] == response.json()["error"]["requestId"]


def test_unknown_route_and_wrong_method_are_json(stream_url):
    assert httpx.get(f"{stream_url}/v1/nothing").json()["error"]["code"] == "NotFound"
    response = httpx.get(f"{stream_url}/v1/targets/claude/stream")
    assert response.status_code == 405 and response.json()["error"]["code"] == "MethodNotAllowed"


def test_client_disconnect_stops_reading_from_bedrock(stream_url, emu):
    # The whole answer takes about 0.4 s; read to its end (as it would be if the app kept the Bedrock
    # stream open after the client left), the emulator would count it as succeeded well within 3 s.
    emu.configure(model=CLAUDE_MODEL, chunk_delay_ms=20, output_tokens=20, tokens_per_chunk=1)
    with httpx.stream(
        "POST",
        f"{stream_url}/v1/targets/claude/stream",
        content=json.dumps(CLAUDE_BODY),
        headers={"Content-Type": "application/json"},
        timeout=30,
    ) as response:
        for piece in response.iter_raw():
            if piece.count(b"event: chunk") >= 1:
                break
    time.sleep(3)
    counters = emu.counters()
    assert counters["calls"] == 1
    assert counters["succeeded"] == 0  # cut off: the app closed the Bedrock stream when the client left


def test_the_request_id_comes_from_api_gateway_never_from_a_client_header(stream_url, emu):
    url = f"{stream_url}/v1/targets/no-such-target/stream"
    forged = httpx.post(url, json=CLAUDE_BODY, headers={"x-amzn-requestid": "forged-id"}, timeout=30)
    assert forged.status_code == 404 and forged.json()["error"]["requestId"] != "forged-id"
    # Behind API Gateway, the Lambda Web Adapter passes the request context (and the Lambda context).
    context = {"x-amzn-request-context": json.dumps({"requestId": "api-gw-123"})}
    assert (
        httpx.post(url, json=CLAUDE_BODY, headers=context, timeout=30).json()["error"]["requestId"]
        == "api-gw-123"
    )
    lambda_only = {"x-amzn-lambda-context": json.dumps({"request_id": "lambda-456"})}
    response = httpx.post(url, json=CLAUDE_BODY, headers=lambda_only, timeout=30)
    assert response.json()["error"]["requestId"] == "lambda-456"
