"""Raw HTTP: event-stream framing and CRCs, chunked transfer, headers, latency, CLI, the reference client call."""

from __future__ import annotations

import ast
import base64
import http.client
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path
from urllib.parse import quote, urlsplit

import bedrock_emulator
import pytest
from bedrock_emulator import Emulator, emulator_env, eventstream
from bedrock_emulator.families import count_tokens
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import BotoCoreError
from emulator_helpers import MODEL, make_client, nova_body, nova_text

PT_ARN = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghij12"


def _address(emulator) -> tuple[str, int]:
    parts = urlsplit(emulator.url)
    return parts.hostname, parts.port


def _raw_request(emulator, path: str, body: bytes, headers: dict | None = None) -> tuple[bytes, bytes]:
    """One HTTP/1.1 request on a fresh socket; returns (head, raw body bytes as sent on the wire)."""
    host, port = _address(emulator)
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _dechunk(raw: bytes) -> list[bytes]:
    """The HTTP chunks of a chunked body, checking the framing (terminating zero chunk included)."""
    chunks = []
    while True:
        size_line, _, raw = raw.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert raw == b"\r\n"
            return chunks
        chunks.append(raw[:size])
        assert raw[size : size + 2] == b"\r\n"
        raw = raw[size + 2 :]


def test_event_stream_framing(emulator):
    head, raw = _raw_request(
        emulator,
        "/model/amazon.nova-pro-v1:0/invoke-with-response-stream",
        nova_body().encode(),
        {"Content-Type": "application/json"},
    )
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in header_lines)}
    assert status_line == "HTTP/1.1 200 OK"
    assert headers["transfer-encoding"] == "chunked"
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert headers["x-amzn-bedrock-content-type"] == "application/json"
    assert headers["x-amzn-requestid"]
    assert "content-length" not in headers

    http_chunks = _dechunk(raw)
    assert len(http_chunks) > 5
    texts = []
    for data in http_chunks:
        # Exactly one event-stream message per HTTP chunk: each event is flushed on its own.
        total, headers_len, prelude_crc = struct.unpack(">III", data[:12])
        assert total == len(data)
        assert prelude_crc == zlib.crc32(data[:8])
        assert struct.unpack(">I", data[-4:])[0] == zlib.crc32(data[:-4])
        buffer = EventStreamBuffer()
        buffer.add_data(data)
        (message,) = list(buffer)
        assert message.headers == {
            ":event-type": "chunk",
            ":content-type": "application/json",
            ":message-type": "event",
        }
        assert len(data) == 12 + headers_len + len(message.payload) + 4
        inner = json.loads(base64.b64decode(json.loads(message.payload)["bytes"]))
        texts.append(nova_text(inner))
    assert "amazon-bedrock-invocationMetrics" in inner
    assert "".join(texts).strip()


def test_mid_stream_exception_framing(emulator):
    emulator.configure(model=MODEL, error={"type": "throttling", "when": "after_chunks", "after_chunks": 2})
    _, raw = _raw_request(
        emulator, "/model/amazon.nova-pro-v1:0/invoke-with-response-stream", nova_body().encode()
    )
    messages = []
    for data in _dechunk(raw):
        buffer = EventStreamBuffer()
        buffer.add_data(data)
        messages += list(buffer)
    assert len(messages) == 3
    assert messages[-1].headers == {
        ":exception-type": "throttlingException",
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    assert json.loads(messages[-1].payload)["message"]


def test_url_encoded_arn_and_errors(emulator):
    host, port = _address(emulator)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    # Both requests on one kept-alive connection.
    conn.request("POST", f"/model/{quote(PT_ARN, safe='')}/invoke", body=nova_body())
    resp = conn.getresponse()
    payload = json.loads(resp.read())
    assert resp.status == 200 and nova_text(payload)
    assert int(resp.getheader("X-Amzn-Bedrock-Output-Token-Count")) == count_tokens(nova_text(payload))
    assert resp.getheader("X-Amzn-Bedrock-Input-Token-Count") == "6"  # Tell(1) me(1) about(2) Mars(1) .(1)
    assert resp.getheader("X-Amzn-Bedrock-Invocation-Latency") is not None
    assert resp.getheader("x-amzn-RequestId")

    conn.request("POST", "/model/nope.nope-v1/invoke", body=nova_body())
    resp = conn.getresponse()
    assert resp.status == 400
    assert resp.getheader("X-Amzn-ErrorType").split(":")[0] == "ValidationException"
    assert json.loads(resp.read()) == {"message": "The provided model identifier is invalid."}
    conn.close()


def test_sync_latency_is_tiny(runtime, emulator):
    body = nova_body(max_tokens=100)
    for _ in range(5):  # warm the connection pool
        runtime.invoke_model(modelId=MODEL, body=body)
    samples = []
    for _ in range(50):
        started = time.perf_counter()
        runtime.invoke_model(modelId=MODEL, body=body)["body"].read()
        samples.append((time.perf_counter() - started) * 1000)

    host, port = _address(emulator)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    raw = []
    for _ in range(50):
        started = time.perf_counter()
        conn.request("POST", "/model/amazon.nova-pro-v1:0/invoke", body=body)
        conn.getresponse().read()
        raw.append((time.perf_counter() - started) * 1000)
    conn.close()
    boto_median, raw_median = statistics.median(samples), statistics.median(raw)
    print(f"\nsync InvokeModel median: boto3 {boto_median:.2f} ms, raw HTTP {raw_median:.2f} ms")
    assert boto_median < 20
    assert raw_median < 10


def _clean_env(url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(emulator_env(url))
    return env


def test_spec_reference_client_call(emulator):
    """The AWS documentation's call, unchanged, with only the endpoint variables pointing at the emulator."""
    script = textwrap.dedent("""
        import boto3
        import json

        brt = boto3.client(service_name='bedrock-runtime')

        body = json.dumps({
            'anthropic_version': 'bedrock-2023-05-31',
            'max_tokens': 4000,
            'messages': [{'role': 'user', 'content': 'write an essay for living on mars in 1000 words'}]
        })

        response = brt.invoke_model_with_response_stream(
            modelId='us.anthropic.claude-haiku-4-5-20251001-v1:0',
            body=body
        )

        stream = response.get('body')
        if stream:
            for event in stream:
                chunk = event.get('chunk')
                if chunk:
                    print(json.loads(chunk.get('bytes').decode()))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=_clean_env(emulator.url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    printed = [ast.literal_eval(line) for line in done.stdout.splitlines()]
    assert len(printed) > 10
    assert all("type" in p for p in printed)
    assert printed[-2]["delta"]["stop_reason"] == "end_turn"
    assert "amazon-bedrock-invocationMetrics" in printed[-1]


def test_cli_prints_its_url_and_stops_on_sigterm():
    env = dict(os.environ, PYTHONPATH=str(Path(bedrock_emulator.__file__).parents[1]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bedrock_emulator", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline().strip()
        url = line.rsplit(" ", 1)[-1]
        assert line.startswith("Bedrock emulator listening on http://127.0.0.1:")
        host, port = urlsplit(url).hostname, urlsplit(url).port
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", "/_emulator/health")
        assert json.loads(conn.getresponse().read())["status"] == "ok"
        conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_encoder_round_trips_through_botocore():
    message = eventstream.encode_message({":event-type": "chunk", "x-ünïcode": "välue"}, b'{"a": 1}')
    buffer = EventStreamBuffer()
    buffer.add_data(message[:7])  # the decoder must cope with partial data
    assert list(buffer) == []
    buffer.add_data(message[7:])
    (decoded,) = list(buffer)
    assert decoded.headers == {":event-type": "chunk", "x-ünïcode": "välue"}
    assert decoded.payload == b'{"a": 1}'


def test_stop_closes_kept_alive_connections():
    emu = Emulator().start()
    client = make_client("bedrock-runtime", emu.url)
    client.invoke_model(modelId=MODEL, body=nova_body())
    emu.stop()
    with pytest.raises(BotoCoreError):
        client.invoke_model(modelId=MODEL, body=nova_body())
