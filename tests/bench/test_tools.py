"""The fuzz check, the asset measurement and a tiny load run work (no timing is asserted)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from bench.common import PYTHONPATH, REPO
from bench.fuzz import error_shape_problem


def test_error_shape_check():
    good = json.dumps(
        {"error": {"code": "TargetNotFound", "message": "unknown target", "requestId": "r-1"}}
    ).encode()
    assert error_shape_problem(200, "text/plain", b"anything") is None
    assert error_shape_problem(404, "application/json", good) is None
    assert error_shape_problem(404, "text/plain", b"Not Found")
    assert error_shape_problem(400, "application/json", b'{"message": "Bad Request"}')
    assert error_shape_problem(400, "application/json", b"{broken")
    assert error_shape_problem(429, "application/json", good, None)  # Retry-After missing
    assert error_shape_problem(429, "application/json", good, "2") is None
    traced = json.dumps(
        {
            "error": {
                "code": "InternalError",
                "requestId": None,
                "message": 'Traceback (most recent call last):\n  File "x.py", line 3, in f',
            }
        }
    )
    assert error_shape_problem(500, "application/json", traced.encode())
    echoed = json.dumps(
        {
            "error": {
                "code": "ValidationException",
                "requestId": "r",
                "message": "extraneous key [Traceback] is not permitted",
            }
        }
    )
    assert error_shape_problem(400, "application/json", echoed.encode()) is None


def test_error_shape_check_on_bedrocks_wire():
    bedrock = b'{"message": "The provided model identifier is invalid."}'
    model = "/model/{modelId}/invoke"
    assert (
        error_shape_problem(400, "application/json", bedrock, path=model, error_type="ValidationException")
        is None
    )
    assert error_shape_problem(400, "application/json", bedrock, path=model)  # no x-amzn-ErrorType
    gateway = b'{"error": {"code": "TargetNotFound", "message": "m", "requestId": "r"}}'
    assert error_shape_problem(400, "application/json", gateway, path=model, error_type="ValidationException")
    # API Gateway's own answers carry both shapes, for both doors.
    both = json.dumps(
        {
            "message": "Unauthorized",
            "error": {"code": "Unauthorized", "message": "Unauthorized", "requestId": "r"},
        }
    ).encode()
    assert error_shape_problem(401, "application/json", both) is None
    assert (
        error_shape_problem(401, "application/json", both, path=model, error_type="AccessDeniedException")
        is None
    )


def test_asset_platform_and_files(tmp_path):
    from bench import asset

    python, platforms, source = asset.lambda_platform()
    assert re.fullmatch(r"3\.\d+", python) and platforms and source
    deps = tmp_path / "deps"
    (deps / "pkg" / "__pycache__").mkdir(parents=True)
    (deps / "pkg" / "__init__.py").write_text("x = 1\n")
    (deps / "pkg" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\0" * 10)
    names = {name for _, name in asset.asset_files(deps)}
    assert "pkg/__init__.py" in names and "bedrock_gateway/__init__.py" in names and "targets.toml" in names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    size = asset.measure(deps)
    assert size["zipped_mb"] <= size["unzipped_mb"] and size["files"] == len(names)


def test_a_tiny_load_run_has_no_errors(tmp_path):
    env = dict(os.environ, PYTHONPATH=PYTHONPATH)
    for key in [k for k in env if k.startswith("AWS_ENDPOINT_URL")]:
        del env[key]
    out = tmp_path / "load.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.load",
            "--streams",
            "2",
            "--sync",
            "3",
            "--concurrency",
            "1",
            "--ttft-ms",
            "0",
            "--chunk-delay-ms",
            "0",
            "--output-tokens",
            "3",
            "--out",
            str(out),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "errors=0" in completed.stdout
    document = json.loads(out.read_text())
    assert [(p["phase"], p["requests"], p["errors"]) for p in document["phases"]] == [
        ("streams", 2, 0),
        ("sync", 3, 0),
    ]


def test_the_cold_start_bench_runs_uvicorn_as_the_stream_function_does():
    """bench/_child.py's uvicorn settings are the run script's command-line options, as uvicorn's own
    CLI parses them (a changed option in infra/lambda_asset.py must change the bench too)."""
    from uvicorn.main import main as uvicorn_cli

    from bench._child import UVICORN_CONFIG
    from infra.lambda_asset import STREAM_APP, UVICORN_OPTIONS

    params = uvicorn_cli.make_context("uvicorn", [STREAM_APP, *UVICORN_OPTIONS]).params
    defaults = uvicorn_cli.make_context("uvicorn", [STREAM_APP]).params
    changed = {name for name, value in params.items() if value != defaults[name]}
    assert changed == set(UVICORN_CONFIG)
    assert {name: params[name] for name in changed} == UVICORN_CONFIG


def test_the_stand_in_cpu_of_each_write_is_counted_claims_apart_and_the_hook_removed():
    import boto3
    from bedrock_gateway.core.jobs.contract import JobRequest
    from bedrock_gateway.core.jobs.store import DynamoJobStore, now_ms
    from devstack.aws import _moto_server
    from moto.dynamodb.responses import DynamoHandler

    from bench.run import StandInWrites, stand_in_write_cpu

    assert StandInWrites(claims=[1.0]).claim_and_outcome_ms() is None  # no outcome seen
    server = _moto_server("127.0.0.1", 0)  # moto's backends are this process's: a table of its own
    server.start()
    host, port = server.get_host_and_port()
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    table = "bench-stand-in-cpu"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        served = DynamoHandler.call_action
        store = DynamoJobStore(table, dynamodb)
        job = JobRequest("a", "claude", {})
        with stand_in_write_cpu() as spent:
            dynamodb.get_item(TableName=table, Key={"jobId": {"S": "a"}})  # not a write
            held = store.claim(job, "owner", now_ms() + 60_000, None).held  # an update
            assert held is not None and store.succeed(held, {"inputTokens": 1}, result="{}")
            assert store.claim(
                JobRequest("c", "claude", {}), "owner", now_ms() + 60_000, None, unrecorded=True
            )
            assert store.create(JobRequest("d", "claude", {}))[1]  # a put, but no claim
            dynamodb.update_item(
                TableName=table,
                Key={"jobId": {"S": "b"}},
                UpdateExpression="SET #s = :s",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": "queued"}},
            )
        assert len(spent.claims) == 2 and len(spent.others) == 3
        assert all(ms > 0 for ms in spent.claims + spent.others)
        claim, other = (sum(spent.claims) / 2, sorted(spent.others)[1])
        assert spent.claim_and_outcome_ms() == claim + other
        assert spent.floor_ms(jobs=10, call_ms=300) == 10 * claim + 300 + other
        assert DynamoHandler.call_action is served
    finally:
        dynamodb.delete_table(TableName=table)
        server.stop()
