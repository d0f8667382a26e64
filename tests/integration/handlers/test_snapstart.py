"""Each function as SnapStart runs it, in a fresh process: what its init leaves for later, what its
before-snapshot priming builds (with no call to Bedrock or AWS), and a first request served after the
after-restore hooks, through real boto3 to the emulator and moto."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Runs in a fresh process: argv = [function, job id]. Prints what it saw as JSON on its last line.
CHILD = r"""
import json, sys, importlib
function, job_id = sys.argv[1], sys.argv[2]
module = importlib.import_module({
    "sync": "bedrock_gateway.handlers.api",
    "stream": "bedrock_gateway.handlers.stream_lambda",
    "worker": "bedrock_gateway.handlers.worker",
    "authorizer": "bedrock_gateway.handlers.authorizer",
    "dead-letters": "bedrock_gateway.handlers.dead_letters",
}[function])
from bedrock_gateway import snapstart
from bedrock_gateway.core import catalog, clients
from bedrock_gateway.core.bedrock import runtime

def state():
    from aws_xray_sdk.core import patcher
    return {
        # botocore clients by service, and the signed-HTTP client for Bedrock Runtime's data plane
        "clients": sorted(
            {service for service, _ in clients._clients} | ({"bedrock-runtime"} if runtime._clients else set())
        ),
        "catalog_loaded": catalog.load.cache_info().currsize == 1,
        "jobs_api_imported": "bedrock_gateway.handlers.jobs_api" in sys.modules,
        "xray_patched": sorted(patcher._PATCHED_MODULES),
        "sqlite3_imported": "sqlite3" in sys.modules,
        "idna_imported": "encodings.idna" in sys.modules,  # what a first connection imports
        "job_schema_compiled": "fastjsonschema" in sys.modules,
    }

seen = {"init": state()}
snapstart.before_snapshot()
seen["primed"] = state()
snapstart.after_restore()

from devstack.apigw import LambdaContext, build_event, response_parts
body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
                   "messages": [{"role": "user", "content": "hi"}]}).encode()
if function == "sync":
    event = build_event("POST", "/v1/targets/claude/invoke", "", [("Content-Type", "application/json")], body)
    seen["status"] = response_parts(module.handler(event, LambdaContext()))[0]
elif function == "stream":
    from starlette.testclient import TestClient
    with TestClient(module.app) as client:
        response = client.post("/v1/targets/claude/stream", content=body)
        seen["status"] = response.status_code
        seen["events"] = response.text.count("event: ")
elif function == "worker":
    from devstack.poller import to_lambda_record
    message = {"MessageId": job_id, "ReceiptHandle": job_id, "Attributes": {"ApproximateReceiveCount": "1"},
               "Body": json.dumps({"jobId": job_id, "target": "claude", "body": json.loads(body)})}
    event = {"Records": [to_lambda_record(message, "arn:aws:sqs:us-east-1:123456789012:jobs")]}
    result = module.handler(event, LambdaContext(function_name="worker"))
    seen["status"] = 200 if not result["batchItemFailures"] else 500
elif function == "dead-letters":
    from devstack.poller import to_lambda_record
    message = {"MessageId": job_id, "ReceiptHandle": job_id, "Attributes": {"ApproximateReceiveCount": "5"},
               "Body": json.dumps({"jobId": job_id, "target": "claude", "body": json.loads(body)})}
    event = {"Records": [to_lambda_record(message, "arn:aws:sqs:us-east-1:123456789012:jobs-dlq")]}
    result = module.handler(event, LambdaContext(function_name="dead-letters"))
    # Marked, and kept in the DLQ for a redrive (an item failure to the event source).
    seen["status"] = 200 if result["batchItemFailures"] == [{"itemIdentifier": job_id}] else 500
print(json.dumps(seen))
"""

#: What Lambda sets that decides how Powertools' Tracer starts (as in bench/common.py): tracing on.
LAMBDA_TRACING = {
    "LAMBDA_TASK_ROOT": "/var/task",
    "AWS_LAMBDA_FUNCTION_NAME": "bedrock-gateway-test",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "POWERTOOLS_TRACE_DISABLED": "false",
}


def run_function(function: str, job_id: str = "snapstart-job") -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), **LAMBDA_TRACING)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, function, job_id], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_sync_init_loads_only_what_invoke_needs_and_priming_builds_the_rest(emu, aws):
    seen = run_function("sync")
    init, primed = seen["init"], seen["primed"]
    # Init: no AWS client, no catalog, no job store code; X-Ray patches botocore, and only botocore.
    assert init["clients"] == [] and not init["catalog_loaded"] and not init["jobs_api_imported"]
    assert init["xray_patched"] == ["botocore"] and not init["sqlite3_imported"]
    # Priming: every client a sync request may use (the control plane for the application profile,
    # which only Bedrock can answer), the catalog, the jobs routes.
    assert primed["clients"] == ["bedrock", "bedrock-runtime", "dynamodb", "s3", "sqs"]
    assert primed["catalog_loaded"] and primed["jobs_api_imported"]
    assert not init["idna_imported"] and primed["idna_imported"]
    assert not init["job_schema_compiled"] and primed["job_schema_compiled"]
    assert seen["status"] == 200
    counters = emu.counters()
    assert counters["control_plane"] == {}  # priming asked Bedrock nothing
    assert counters["operations"] == {"InvokeModel": 1}  # the request, after the restore


def test_stream_priming_builds_its_client_and_the_catalog_without_a_call(emu):
    seen = run_function("stream")
    assert seen["init"]["clients"] == [] and not seen["init"]["catalog_loaded"]
    assert seen["primed"]["clients"] == ["bedrock", "bedrock-runtime"] and seen["primed"]["catalog_loaded"]
    assert seen["status"] == 200 and seen["events"] > 2
    counters = emu.counters()
    assert counters["control_plane"] == {}
    assert counters["operations"] == {"InvokeModelWithResponseStream": 1}


def test_worker_priming_builds_every_client_a_job_may_need(emu, aws):
    seen = run_function("worker", job_id="snapstart-worker-job")
    # Init builds what every job uses (as a Lambda function's SDK clients are built, outside the
    # handler); priming adds what a job may need (S3 for large results, SQS for backoff).
    assert seen["init"]["clients"] == ["bedrock-runtime", "dynamodb"]
    assert seen["init"]["xray_patched"] == ["botocore"]
    assert seen["primed"]["clients"] == ["bedrock-runtime", "dynamodb", "s3", "sqs"]
    assert not seen["init"]["job_schema_compiled"] and seen["primed"]["job_schema_compiled"]
    assert seen["status"] == 200
    assert emu.counters()["operations"] == {"InvokeModel": 1}
    record = aws.client("dynamodb").scan(TableName=aws.env["JOBS_TABLE_NAME"])["Items"]
    assert [item["status"]["S"] for item in record] == ["succeeded"]


def test_dlq_consumer_priming_builds_the_job_stores_and_the_dlqs_clients(emu, aws):
    seen = run_function("dead-letters", job_id="snapstart-dead-letter")
    assert seen["init"]["clients"] == [] and not seen["init"]["job_schema_compiled"]
    # No idempotency table and no Bedrock: the job store (DynamoDB) and the DLQ (holding a message).
    assert seen["primed"]["clients"] == ["dynamodb", "sqs"] and seen["primed"]["job_schema_compiled"]
    assert seen["status"] == 200
    assert emu.counters()["operations"] == {}
    [record] = aws.client("dynamodb").scan(TableName=aws.env["JOBS_TABLE_NAME"])["Items"]
    assert record["status"]["S"] == "failed" and record["error"]["M"]["code"]["S"] == "DeadLettered"


def test_authorizer_priming_builds_the_keys_tables_client(aws):
    seen = run_function("authorizer")
    assert seen["init"]["clients"] == [] and seen["primed"]["clients"] == ["dynamodb"]


@pytest.mark.parametrize("function", ["sync", "worker"])
def test_without_snapstart_the_first_request_builds_only_what_it_uses(emu, aws, function):
    """No hooks run (SnapStart off, or locally): a first invoke or job builds its own clients only."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), **LAMBDA_TRACING)
    script = CHILD.replace("snapstart.before_snapshot()", "pass").replace("snapstart.after_restore()", "pass")
    script += "\nseen['after_request'] = state()\nprint(json.dumps(seen))\n"
    job_id = f"no-snapstart-{function}"
    result = subprocess.run(
        [sys.executable, "-c", script, function, job_id], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-4000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["status"] == 200
    used = seen["after_request"]["clients"]
    # Neither a sync invoke nor a job that needs no large-result storage or backoff builds S3 or SQS.
    assert used == (["bedrock-runtime"] if function == "sync" else ["bedrock-runtime", "dynamodb"])
    assert not seen["after_request"]["jobs_api_imported"]
