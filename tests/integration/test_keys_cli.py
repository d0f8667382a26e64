"""`make keys`: create, list, rotate and revoke gateway keys, each joined to the stack's usage plan
(API Gateway and DynamoDB in moto)."""

from __future__ import annotations

import json
import socket

import pytest
from bedrock_gateway.core.keys import DynamoKeyStore, key_hash

from gateway_cli import main


@pytest.fixture
def place(aws, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_API_GATEWAY", aws.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    apigateway = aws.client("apigateway")
    api = apigateway.create_rest_api(name="gateway")
    plan = apigateway.create_usage_plan(name="keys", throttle={"rateLimit": 5, "burstLimit": 9})
    store = DynamoKeyStore(aws.env["KEYS_TABLE_NAME"], aws.client("dynamodb"))
    where = ["--table", aws.env["KEYS_TABLE_NAME"], "--usage-plan", plan["id"], "--region", "us-east-1"]
    return {"apigateway": apigateway, "plan": plan["id"], "store": store, "where": where, "api": api["id"]}


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def plan_keys(place) -> set[str]:
    return {k["id"] for k in place["apigateway"].get_usage_plan_keys(usagePlanId=place["plan"])["items"]}


def test_create_prints_the_secret_once_stores_its_hash_and_joins_the_usage_plan(place, capsys):
    code, out, _ = run(
        capsys, "keys", "create", "--tenant", "team-a", "--targets", "claude,nova", *place["where"]
    )
    assert code == 0
    secret = out.strip().splitlines()[-1]
    record = place["store"].get(key_hash(secret))
    assert record.tenant == "team-a" and record.targets == ("claude", "nova") and record.valid()
    assert record.usage_key_id in plan_keys(place)
    assert secret not in json.dumps(record.to_item())

    code, out, _ = run(capsys, "keys", "list", "--json", *place["where"])
    assert code == 0 and secret not in out
    assert [k["tenant"] for k in json.loads(out)] == ["team-a"]


def test_rotate_ends_the_old_key_and_revoke_disables_its_usage_key(place, capsys):
    _, out, _ = run(
        capsys, "keys", "create", "--tenant", "team-b", "--expires-in-days", "30", *place["where"]
    )
    old_secret = out.strip().splitlines()[-1]
    old = place["store"].get(key_hash(old_secret))

    code, out, _ = run(capsys, "keys", "rotate", old.key_id, *place["where"])
    assert code == 0 and f"{old.key_id} is revoked" in out
    new_secret = next(line for line in out.splitlines() if line.startswith("bgk_"))
    new = place["store"].get(key_hash(new_secret))
    assert (new.tenant, new.expires_at) == ("team-b", old.expires_at) and new.valid()
    assert not place["store"].get(key_hash(old_secret)).valid()
    assert place["apigateway"].get_api_key(apiKey=old.usage_key_id)["enabled"] is False

    code, _, _ = run(capsys, "keys", "rotate", new.key_id, "--grace-minutes", "30", *place["where"])
    assert code == 0 and place["store"].get(key_hash(new_secret)).valid()  # still, for 30 minutes

    code, out, _ = run(capsys, "keys", "revoke", new.key_id, *place["where"])
    assert code == 0 and not place["store"].get(key_hash(new_secret)).valid()


@pytest.mark.parametrize(
    "args,message",
    [
        (["create", "--tenant", "team a"], "tenant 'team a'"),
        (["create", "--tenant", "t", "--targets", "ok,not ok"], "not target names: not ok"),
        (["create", "--tenant", "t", "--targets", "claude,claud"], "unknown targets: claud ("),
        (
            ["create", "--tenant", "t", "--targets", "anthropic.claude-v2"],
            "aliases, not target names: anthropic.claude-v2 (an alias of claude); name the targets",
        ),
        (["create", "--tenant", "t", "--expires-in-days", "0"], "at least 1"),
        (["revoke", "k-000000000000"], "no key k-000000000000"),
    ],
)
def test_mistakes_are_one_line_errors(place, capsys, args, message):
    code, _, err = run(capsys, "keys", *args, *place["where"])
    assert code == 2 and message in err and "Traceback" not in err


def test_a_target_the_targets_file_lacks_is_refused_unless_asked_for(place, capsys):
    code, _, err = run(capsys, "keys", "create", "--tenant", "t", "--targets", "next-model", *place["where"])
    assert code == 2 and "unknown targets: next-model" in err and "--no-target-check" in err
    assert place["store"].all() == []
    code, out, _ = run(
        capsys,
        "keys",
        "create",
        "--tenant",
        "t",
        "--targets",
        "next-model",
        "--no-target-check",
        *place["where"],
    )
    assert code == 0
    assert place["store"].get(key_hash(out.strip().splitlines()[-1])).targets == ("next-model",)


def test_local_keys_are_checked_against_the_targets_file_make_run_loaded(capsys, tmp_path, monkeypatch):
    targets = tmp_path / "team.toml"
    targets.write_text('[targets.special]\nmodel = "amazon.nova-pro-v1:0"\n')
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "stack.json").write_text(json.dumps({"targets_file": str(targets)}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TARGETS_FILE", raising=False)
    code, _, err = run(capsys, "keys", "create", "--local", "--tenant", "t", "--targets", "claude")
    assert code == 2 and f"unknown targets: claude ({targets} has special;" in err


def test_local_keys_when_make_run_has_stopped_say_to_start_it(capsys, tmp_path, monkeypatch):
    with socket.socket() as closed:  # a port nothing listens on any more
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    (tmp_path / ".local").mkdir()
    state = {"aws_endpoint": f"http://127.0.0.1:{port}", "keys_table": "keys"}
    (tmp_path / ".local" / "stack.json").write_text(json.dumps(state))
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "keys", "list", "--local")
    assert code == 2 and "the local stack is not running" in err and "start it with make run" in err
    assert "Traceback" not in err
