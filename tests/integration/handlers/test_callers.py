"""Two callers sharing one gateway: jobs belong to their caller, keys limit targets, usage is theirs.

Callers are IAM principals (the request context API Gateway builds for SigV4) and gateway-key tenants
(the context the key authorizer returns), through the real sync handler, moto and the emulator.
"""

from __future__ import annotations

import json

import pytest
from devstack.apigw import LambdaContext
from devstack.poller import to_lambda_record

from tests.integration.conftest import iam_context, key_context

LLAMA = {"prompt": "hello mars", "max_gen_len": 20}
CONFIDENTIAL = {"prompt": "acme q3 numbers: revenue 42", "max_gen_len": 20}
CALLERS = {
    "IAM principals": tuple(iam_context(f"AROA{name:0<15}") for name in ("ALICE", "BOB", "CAROL")),
    "gateway keys": (key_context("acme"), key_context("globex"), key_context("initech")),
}


@pytest.fixture
def jobs(call_api, aws, worker_module):
    sqs = aws.client("sqs")

    def work() -> None:
        messages = sqs.receive_message(
            QueueUrl=aws.env["JOBS_QUEUE_URL"],
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        event = {"Records": [to_lambda_record(m, "arn:aws:sqs:us-east-1:123456789012:q") for m in messages]}
        assert worker_module.handler(event, LambdaContext()) == {"batchItemFailures": []}

    return call_api, work


@pytest.mark.parametrize("kind", CALLERS)
def test_another_callers_job_is_exactly_a_job_that_does_not_exist(jobs, kind):
    call_api, work = jobs
    alice, bob, carol = CALLERS[kind]
    job = {"jobId": "acme-q3-summary", "target": "llama", "body": CONFIDENTIAL}
    assert call_api("POST", "/v1/jobs", job, context=alice).status == 202
    work()
    assert call_api("GET", "/v1/jobs/acme-q3-summary", context=alice).json()["status"] == "succeeded"

    never = call_api("GET", "/v1/jobs/never-posted", context=bob)
    for path in ("/v1/jobs/acme-q3-summary", "/v1/jobs/acme-q3-summary/result"):
        theirs = call_api("GET", path, context=bob)
        assert (
            (theirs.status, theirs.json()["error"]["code"])
            == (never.status, never.json()["error"]["code"])
            == (
                404,
                "NotFound",
            )
        )
        assert "revenue" not in theirs.body.decode()

    # Posting the same id, guessing Alice's prompt right (Bob) or wrong (Carol), makes a job of their own:
    # a 202 either way, never the 200 or 409 that would tell them Alice's job exists or what it asked.
    for other, guess in ((bob, CONFIDENTIAL), (carol, LLAMA)):
        response = call_api("POST", "/v1/jobs", dict(job, body=guess), context=other)
        assert response.status == 202 and response.json() == {"jobId": "acme-q3-summary", "status": "queued"}
        assert call_api("GET", "/v1/jobs/acme-q3-summary", context=other).json()["status"] == "queued"
    # ... and Alice's job is untouched.
    mine = call_api("GET", "/v1/jobs/acme-q3-summary", context=alice).json()
    assert mine["status"] == "succeeded" and "generation" in mine["result"]


def test_a_job_id_cannot_be_squatted(jobs):
    call_api, work = jobs
    alice, bob, _ = CALLERS["gateway keys"]
    assert (
        call_api(
            "POST", "/v1/jobs", {"jobId": "nightly", "target": "llama", "body": LLAMA}, context=bob
        ).status
        == 202
    )
    # Alice's first use of the id is a fresh job of hers, not Bob's.
    response = call_api(
        "POST", "/v1/jobs", {"jobId": "nightly", "target": "llama", "body": CONFIDENTIAL}, context=alice
    )
    assert response.status == 202
    work()
    assert json.dumps(call_api("GET", "/v1/jobs/nightly", context=alice).json()["result"]) != json.dumps(
        call_api("GET", "/v1/jobs/nightly", context=bob).json()["result"]
    )


def test_the_same_request_in_another_key_order_is_the_same_job(jobs):
    call_api, _ = jobs
    first = {"jobId": "ordered", "target": "llama", "body": {"prompt": "hi", "max_gen_len": 5}}
    assert call_api("POST", "/v1/jobs", first).status == 202
    again = {"body": {"max_gen_len": 5, "prompt": "hi"}, "target": "llama", "jobId": "ordered"}
    assert call_api("POST", "/v1/jobs", again).status == 200
    changed = {"jobId": "ordered", "target": "llama", "body": {"prompt": "hi", "max_gen_len": 6}}
    assert call_api("POST", "/v1/jobs", changed).status == 409


@pytest.mark.parametrize("job_id", [".", "..", "a/b", "-leading-dash", "x" * 129, "sp ace"])
def test_unsafe_job_ids_are_refused(jobs, job_id):
    call_api, _ = jobs
    response = call_api("POST", "/v1/jobs", {"jobId": job_id, "target": "llama", "body": LLAMA})
    assert response.status == 400 and response.json()["error"]["code"] == "InvalidRequest"


def test_a_key_limited_to_nova_may_not_use_claude(call_api, emu, jobs):
    nova_only = key_context("nova-team", targets="nova")
    refused = call_api("POST", "/v1/targets/claude/invoke", {"messages": []}, context=nova_only)
    assert refused.status == 403 and refused.json()["error"]["code"] == "TargetNotAllowed"
    job = call_api("POST", "/v1/jobs", {"target": "claude", "body": {"messages": []}}, context=nova_only)
    assert job.status == 403
    assert emu.counters()["calls"] == 0
    nova = {"schemaVersion": "messages-v1", "messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    assert call_api("POST", "/v1/targets/nova/invoke", nova, context=nova_only).status == 200
    # An alias is its target at every door: a key for claude may send a job to claude's alias.
    claude_only = key_context("claude-team", targets="claude")
    aliased = {"target": "anthropic.claude-v2", "body": {"messages": []}}
    assert call_api("POST", "/v1/jobs", aliased, context=claude_only).status == 202
    assert call_api("POST", "/v1/jobs", aliased, context=nova_only).status == 403
    listed = call_api("GET", "/v1/targets", context=nova_only).json()["targets"]
    assert [t["name"] for t in listed] == ["nova"]


def test_the_stream_door_knows_the_caller_too(stream_url, emu):
    import httpx

    request_context = {"requestId": "r-1", **key_context("nova-team", targets="nova")}
    response = httpx.post(
        f"{stream_url}/v1/targets/claude/stream",
        json={"messages": []},
        headers={"x-amzn-request-context": json.dumps(request_context)},
        timeout=30,
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "TargetNotAllowed"


def test_usage_is_attributed_to_the_tenant_and_target(call_api, emu, jobs, capsys, caplog, stream_url):
    import httpx

    call_api, work = jobs
    capsys.readouterr()
    assert call_api("POST", "/v1/targets/llama/invoke", LLAMA, context=key_context("acme")).status == 200
    request_context = {"requestId": "r-2", **key_context("globex")}
    streamed = httpx.post(
        f"{stream_url}/v1/targets/llama/stream",
        json=LLAMA,
        headers={"x-amzn-request-context": json.dumps(request_context)},
    )
    assert streamed.status_code == 200
    assert (
        call_api(
            "POST", "/v1/jobs", {"target": "llama", "body": LLAMA}, context=key_context("initech")
        ).status
        == 202
    )
    work()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    usage = [record.usage for record in caplog.records if record.getMessage() == "usage"]
    assert {(u["tenant"], u["target"], u["door"]) for u in usage} == {
        ("acme", "llama", "sync"),
        ("globex", "llama", "stream"),
        ("initech", "llama", "worker"),
    }
    assert all(u["input_tokens"] > 0 and u["output_tokens"] > 0 for u in usage)
    by_tenant = [doc for doc in lines if "_aws" in doc and "Tenant" in doc]
    assert {(doc["Tenant"], doc["Target"]) for doc in by_tenant} == {
        ("acme", "llama"),
        ("globex", "llama"),
        ("initech", "llama"),
    }


def test_prices_turn_tokens_into_cost(call_api, emu, replace_config, capsys, caplog):
    import dataclasses

    from bedrock_gateway import settings
    from bedrock_gateway.core.targets import Price

    config = settings.targets()
    llama = dataclasses.replace(config.targets["llama"], price=Price(0.72, 0.72))
    replace_config(targets={**config.targets, "llama": llama})
    capsys.readouterr()
    assert call_api("POST", "/v1/targets/llama/invoke", LLAMA, context=key_context("acme")).status == 200
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    usage = next(record.usage for record in caplog.records if record.getMessage() == "usage")
    assert usage["cost_usd"] == pytest.approx((usage["input_tokens"] + usage["output_tokens"]) * 0.72 / 1e6)
    assert any(doc.get("CostUsd") for doc in lines if "_aws" in doc)
