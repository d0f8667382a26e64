"""The bad inputs found while trying the gateway: each a 400 (or the documented status) in the JSON
error shape, and the same answer on the sync and stream doors."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from tests.integration.conftest import CLAUDE_BODY

BAD_NUMBERS = [
    (b'{"messages": [], "temperature": NaN}', "NaN is not a JSON value"),
    (b'{"messages": [], "temperature": Infinity}', "Infinity is not a JSON value"),
    (b'{"messages": [], "temperature": 1e999}', "out of range"),
    (b'{"messages": [], "max_tokens": ' + b"9" * 5000 + b"}", "too long"),
]


@pytest.mark.parametrize("raw,reason", BAD_NUMBERS)
def test_numbers_json_does_not_have_are_400_on_both_doors_and_for_jobs(
    call_api, stream_url, emu, raw, reason
):
    sync = call_api("POST", "/v1/targets/claude/invoke", raw)
    stream = httpx.post(f"{stream_url}/v1/targets/claude/stream", content=raw, timeout=30)
    job = call_api("POST", "/v1/jobs", b'{"target": "claude", "body": ' + raw + b"}")
    for response in (sync, stream, job):
        status = getattr(response, "status", None) or response.status_code
        error = response.json()["error"]
        assert (status, error["code"]) == (400, "InvalidRequest")
        assert reason in error["message"] and "set_int_max_str_digits" not in error["message"]
    assert emu.counters()["calls"] == 0


def test_a_target_name_is_percent_decoded_exactly_once_on_both_doors(call_api, stream_url, emu):
    sync = call_api("POST", "/v1/targets/cl%2561ude/invoke", CLAUDE_BODY)
    stream = httpx.post(f"{stream_url}/v1/targets/cl%2561ude/stream", json=CLAUDE_BODY, timeout=30)
    for status, body in ((sync.status, sync.json()), (stream.status_code, stream.json())):
        assert status == 404 and body["error"]["code"] == "TargetNotFound"
        assert "'cl%61ude'" in body["error"]["message"]  # decoded once: %25 -> %, never twice into "claude"
    assert emu.counters()["calls"] == 0
    assert call_api("POST", "/v1/targets/cl%61ude/invoke", CLAUDE_BODY).status == 200  # once is a name


@pytest.mark.parametrize(
    "method,suffix,status,code",
    [
        ("GET", "", 405, "MethodNotAllowed"),
        ("PUT", "", 405, "MethodNotAllowed"),
        ("POST", "/", 200, None),  # API Gateway's REST resources match with or without a trailing slash
    ],
)
def test_wrong_methods_and_trailing_slashes_answer_alike_on_both_doors(
    call_api, stream_url, method, suffix, status, code
):
    sync = call_api(method, f"/v1/targets/claude/invoke{suffix}", CLAUDE_BODY)
    stream = httpx.request(
        method, f"{stream_url}/v1/targets/claude/stream{suffix}", json=CLAUDE_BODY, timeout=30
    )
    assert sync.status == stream.status_code == status
    if code:
        assert sync.json()["error"]["code"] == stream.json()["error"]["code"] == code


@pytest.mark.parametrize(
    "accept,framing",
    [
        (None, "text/event-stream"),
        ("*/*", "text/event-stream"),
        ("application/x-ndjson", "application/x-ndjson"),
        ("application/x-ndjson;q=0.5, text/event-stream;q=0.9", "text/event-stream"),
        ("text/event-stream;q=0, application/x-ndjson", "application/x-ndjson"),
        ("text/event-stream;q=0.2, application/*;q=0.8", "application/x-ndjson"),
        ("text/html, application/x-ndjson-something", None),
        ("text/event-stream;q=0, application/x-ndjson;q=0", None),
    ],
)
def test_accept_is_negotiated_by_quality_not_by_substring(stream_url, emu, accept, framing):
    headers = {"Accept": accept} if accept else {}
    llama = {"prompt": "hi", "max_gen_len": 5}
    response = httpx.post(f"{stream_url}/v1/targets/llama/stream", json=llama, headers=headers, timeout=30)
    if framing is None:
        assert response.status_code == 406 and response.json()["error"]["code"] == "NotAcceptable"
        assert emu.counters()["calls"] == 0
    else:
        assert response.status_code == 200 and response.headers["content-type"].startswith(framing)


def test_the_stream_door_refuses_a_body_over_the_limit_before_reading_it(stream_url, emu):
    """Declared 50 MiB, sent 10 bytes: the 413 must come at once, not after waiting for the rest."""
    host, port = stream_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/targets/claude/stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 52428800\r\n\r\n" + b'{"messages'
        )
        started, response = time.monotonic(), b""
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            piece = sock.recv(65536)
            if not piece:
                break
            response += piece
    assert time.monotonic() - started < 5
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["error"]["code"] == "PayloadTooLarge"
    assert emu.counters()["calls"] == 0


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(stream_url, emu, replace_config):
    replace_config(max_body_bytes=1000)

    def chunks():
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}]}'

    response = httpx.post(f"{stream_url}/v1/targets/claude/stream", content=chunks(), timeout=30)
    assert response.status_code == 413 and "at least" in response.json()["error"]["message"]
