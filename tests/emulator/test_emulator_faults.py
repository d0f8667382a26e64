"""Latency and fault settings, counters and the ``/_emulator`` control endpoint."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request

import pytest
from emulator_helpers import MODEL, nova_body, nova_text

PT_ARN = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghij12"


def _call(runtime, model_id=MODEL, body=None):
    try:
        runtime.invoke_model(modelId=model_id, body=body or nova_body())
        return "ok"
    except runtime.exceptions.ThrottlingException:
        return "throttled"


def _http(url, method="GET", payload=None):
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_throttle_every_nth_call(runtime, emulator):
    emulator.configure(model=MODEL, throttle_every=3)
    assert [_call(runtime) for _ in range(7)] == ["ok", "ok", "throttled"] * 2 + ["ok"]
    assert emulator.counters()["errors"] == {"ThrottlingException": 2}


def test_seeded_throttle_rate_is_reproducible(runtime, emulator):
    emulator.configure(model=MODEL, throttle_rate=0.5, seed=42)
    first = [_call(runtime) for _ in range(30)]
    emulator.configure(model=MODEL, seed=42)
    assert [_call(runtime) for _ in range(30)] == first
    assert 5 < first.count("throttled") < 25


def test_fault_keys(runtime, emulator):
    """A key matches the modelId as sent, the resolved foundation model, or everything ("*")."""
    emulator.configure(model=PT_ARN, throttle_every=1)
    assert _call(runtime, PT_ARN) == "throttled" and _call(runtime, MODEL) == "ok"
    emulator.reset()
    emulator.configure(model=MODEL, throttle_every=1)
    assert _call(runtime, PT_ARN) == "throttled"
    assert _call(runtime, "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0") == "throttled"
    emulator.reset()
    emulator.configure(model="*", throttle_every=1)
    assert _call(runtime, "amazon.nova-lite-v1:0") == "throttled"
    emulator.configure(model="*", throttle_every=None)
    assert _call(runtime) == "ok"


def test_counters_and_reset(runtime, emulator):
    body = nova_body("count me")
    digest = hashlib.sha256(body.encode()).hexdigest()
    emulator.configure(model=MODEL, throttle_every=2)  # PT_ARN resolves to MODEL: the rule applies to both
    assert len(list(runtime.invoke_model_with_response_stream(modelId=PT_ARN, body=body)["body"])) > 1
    assert [_call(runtime, body=body) for _ in range(3)] == ["throttled", "ok", "throttled"]
    counters = emulator.counters()
    assert (counters["calls"], counters["succeeded"]) == (4, 2)
    assert counters["operations"] == {"InvokeModel": 3, "InvokeModelWithResponseStream": 1}
    assert counters["models"] == {MODEL: {"calls": 3, "succeeded": 1}, PT_ARN: {"calls": 1, "succeeded": 1}}
    assert counters["resolved_models"] == {MODEL: {"calls": 4, "succeeded": 2}}
    assert counters["bodies"] == {digest: {"calls": 4, "succeeded": 2}}
    emulator.reset()
    assert emulator.counters() == {
        "calls": 0,
        "succeeded": 0,
        "operations": {},
        "models": {},
        "resolved_models": {},
        "bodies": {},
        "errors": {},
        "control_plane": {},
    }
    assert [_call(runtime, body=body) for _ in range(2)] == ["ok", "ok"], "reset cleared the faults"


def test_ttft_and_chunk_delay_are_seen_by_the_client(runtime, emulator):
    emulator.configure(model=MODEL, ttft_ms=150, chunk_delay_ms=200, output_tokens=6)
    started = time.perf_counter()
    response = runtime.invoke_model_with_response_stream(modelId=MODEL, body=nova_body())
    arrivals, texts = [], 0
    for event in response["body"]:
        arrivals.append(time.perf_counter() - started)
        texts += bool(nova_text(json.loads(event["chunk"]["bytes"])))
    first, total = arrivals[0], arrivals[-1]
    print(f"first chunk {first * 1000:.0f} ms, last {total * 1000:.0f} ms, {texts} text chunks")
    assert texts >= 3
    assert 0.14 <= first < 0.35
    assert total >= 0.15 + (texts - 1) * 0.2 - 0.02
    assert first < total / 2, "the first chunk arrives before the later ones are produced"
    gaps = [b - a for a, b in zip(arrivals[1:], arrivals[2 : texts + 1], strict=False)]
    assert all(g >= 0.18 for g in gaps)

    started = time.perf_counter()
    runtime.invoke_model(modelId=MODEL, body=nova_body())
    elapsed = time.perf_counter() - started
    assert elapsed >= 0.15 + (texts - 1) * 0.2 - 0.02, "a sync call takes as long as the stream"


def test_control_endpoint(emulator, runtime):
    base = emulator.url + "/_emulator"
    assert _http(base + "/health")[1]["status"] == "ok"
    status, body = _http(base + "/config", "POST", {"model": MODEL, "throttle_every": 1, "ttft_ms": 5})
    assert status == 200 and body == {"model": MODEL, "settings": {"throttle_every": 1, "ttft_ms": 5}}
    assert _http(base + "/config")[1] == {MODEL: {"throttle_every": 1, "ttft_ms": 5}}
    assert _call(runtime) == "throttled"
    assert _http(base + "/counters")[1]["errors"] == {"ThrottlingException": 1}
    assert _http(base + "/reset", "POST", {})[0] == 200
    assert _http(base + "/config")[1] == {}
    assert _call(runtime) == "ok"
    assert _http(base + "/counters")[1]["models"] == {MODEL: {"calls": 1, "succeeded": 1}}

    status, body = _http(base + "/config", "POST", {"model": MODEL, "bogus": 1})
    assert status == 400 and "bogus" in body["message"]
    status, body = _http(base + "/config", "POST", {"error": {"type": "NoSuchException"}})
    assert status == 400
    assert _http(base + "/nothing")[0] == 404


def test_configure_validates(emulator):
    for bad in (
        {"throttle_rate": 2},
        {"tokens_per_chunk": 0},
        {"ttft_ms": -1},
        {"nope": True},
        {"error": {"type": "Throttling", "when": "later"}},
    ):
        with pytest.raises(ValueError):
            emulator.configure(model=MODEL, **bad)
    assert emulator.configure(model=MODEL, error="throttling")["error"]["type"] == "ThrottlingException"


def test_concurrent_streams_are_served_in_parallel(runtime, emulator):
    from concurrent.futures import ThreadPoolExecutor

    emulator.configure(model=MODEL, output_tokens=5, chunk_delay_ms=50)

    def one(i):
        response = runtime.invoke_model_with_response_stream(modelId=MODEL, body=nova_body(f"question {i}"))
        return len(list(response["body"]))

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        assert all(n > 3 for n in pool.map(one, range(8)))
    assert time.perf_counter() - started < 8 * 0.2 / 2, "eight 0.2 s streams overlap"
    assert emulator.counters()["succeeded"] == 8


@pytest.mark.parametrize("kind", ["reset", "truncated"])
def test_an_answer_broken_on_the_wire_is_billed_and_counted(runtime, emulator, kind):
    """The model produced its whole answer (succeeded), but the client gets half of it, then a reset
    connection or an early end: botocore raises instead of returning a cut body."""
    from botocore.exceptions import BotoCoreError

    setting = {"reset": "reset_rate", "truncated": "truncate_rate"}[kind]
    emulator.configure(model=MODEL, **{setting: 1.0})
    body = nova_body()
    with pytest.raises(BotoCoreError):
        runtime.invoke_model(modelId=MODEL, body=body)["body"].read()
    counters = emulator.counters()
    digest = hashlib.sha256(body.encode() if isinstance(body, str) else body).hexdigest()
    assert counters["bodies"][digest] == {"calls": 1, "succeeded": 1, kind: 1}
    assert (
        counters["errors"] == {"reset": {"ConnectionReset": 1}, "truncated": {"TruncatedResponse": 1}}[kind]
    )
    emulator.configure(model=MODEL, **{setting: None})
    assert _call(runtime) == "ok"  # the emulator still answers on a new connection


def test_broken_answers_are_seeded_like_throttling(runtime, emulator):
    emulator.configure(model=MODEL, truncate_rate=0.5, seed=7)

    def outcome():
        try:
            runtime.invoke_model(modelId=MODEL, body=nova_body())["body"].read()
            return "ok"
        except Exception:  # botocore's error for a cut answer
            return "broken"

    first = [outcome() for _ in range(20)]
    emulator.configure(model=MODEL, seed=7)
    assert [outcome() for _ in range(20)] == first
    assert 2 < first.count("broken") < 18


def test_a_broken_stream_stops_halfway(runtime, emulator):
    emulator.configure(model=MODEL, reset_rate=1.0)
    with pytest.raises(Exception):  # noqa: B017 - urllib3/botocore's error for a reset stream
        response = runtime.invoke_model_with_response_stream(modelId=MODEL, body=nova_body())
        list(response["body"])
    assert emulator.counters()["errors"] == {"ConnectionReset": 1}
