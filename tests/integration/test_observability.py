"""Every door emits the same metric names with the same dimensions (what the alarms and dashboard read).

Each door meets a Bedrock throttle and a success; the EMF documents it prints (as Lambda would send
to CloudWatch) are checked for ``Errors`` by ``ErrorCode``, for invocation metrics by ``Target``, and
for usage by ``Tenant`` and ``Target``.
"""

from __future__ import annotations

import json

from bedrock_gateway import observability
from devstack.apigw import LambdaContext
from devstack.poller import to_lambda_record

from tests.integration.conftest import CLAUDE_BODY, CLAUDE_MODEL

CLAUDE = CLAUDE_MODEL


def emitted(text: str) -> list[tuple[str, frozenset[str], dict]]:
    """(metric name, dimension names, document) for every EMF metric in ``text``."""
    found = []
    for line in text.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                for dimensions in directive["Dimensions"]:
                    found.append((metric["Name"], frozenset(dimensions), document))
    return found


def assert_door_emits(text: str, door: str) -> None:
    metrics = emitted(text)
    errors = [doc for name, dims, doc in metrics if name == observability.ERRORS_METRIC]
    assert errors, f"{door}: no {observability.ERRORS_METRIC} metric"
    throttled = [doc for doc in errors if doc[observability.ERROR_CODE_DIMENSION] == "ThrottlingException"]
    assert throttled and all(doc["door"] == door for doc in throttled)
    error_dimensions = {dims for name, dims, _ in metrics if name == observability.ERRORS_METRIC}
    assert error_dimensions == {frozenset({observability.ERROR_CODE_DIMENSION, "service"})}, door
    by_target = frozenset({observability.TARGET_DIMENSION, "service"})
    by_tenant = frozenset({observability.TENANT_DIMENSION, observability.TARGET_DIMENSION, "service"})
    for name in ("Invocations", "InputTokens", "OutputTokens"):
        dimensions = {dims for metric, dims, _ in metrics if metric == name}
        assert dimensions == {by_target, by_tenant}, (door, name)
    assert {dims for metric, dims, _ in metrics if metric == "LatencyMs"} == {by_target}, door


def test_the_sync_door(call_api, emu, capsys):
    capsys.readouterr()
    emu.configure(model=CLAUDE, throttle_every=1)
    assert call_api("POST", "/v1/targets/claude/invoke", CLAUDE_BODY).status == 429
    emu.reset()
    assert call_api("POST", "/v1/targets/claude/invoke", CLAUDE_BODY).status == 200
    assert_door_emits(capsys.readouterr().out, "sync")


def test_the_stream_door(stream_url, emu, capsys):
    import httpx

    capsys.readouterr()
    emu.configure(model=CLAUDE, throttle_every=1)
    url = f"{stream_url}/v1/targets/claude/stream"
    assert httpx.post(url, json=CLAUDE_BODY, timeout=30).status_code == 429
    emu.reset()
    assert httpx.post(url, json=CLAUDE_BODY, timeout=30).status_code == 200
    assert_door_emits(capsys.readouterr().out, "stream")


def test_the_worker(worker_module, aws, emu, capsys):
    def run(job_id: str) -> None:
        message = {
            "MessageId": job_id,
            "ReceiptHandle": job_id,
            "Body": json.dumps({"jobId": job_id, "target": "claude", "body": CLAUDE_BODY}),
            "Attributes": {"ApproximateReceiveCount": "1"},
        }
        event = {"Records": [to_lambda_record(message, "arn:aws:sqs:us-east-1:123456789012:jobs")]}
        worker_module.handler(event, LambdaContext(function_name="worker"))

    capsys.readouterr()
    emu.configure(model=CLAUDE, throttle_every=1)
    run("throttled-job")
    emu.reset()
    run("fine-job")
    assert_door_emits(capsys.readouterr().out, "worker")
