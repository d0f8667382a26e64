"""Gateway API keys (every route with auth=key, the Bedrock-compatible /model routes always): create, list,
rotate and revoke.

A key's secret is printed once, at creation, and never stored: the keys table holds its hash, its
tenant, its optional target allowlist and expiry. In AWS each key also gets an API Gateway API key in
the stack's usage plan, which is how API Gateway enforces the plan's rate, burst and quota for it.

Where the keys table is: ``--stack NAME`` (the deployed stack's outputs; the default), ``--local``
(the ``make run`` stack on this machine), or ``--table NAME [--usage-plan ID]``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bedrock_gateway.core.callers import TENANT_NAME
from bedrock_gateway.core.keys import REVOKED, DynamoKeyStore, KeyRecord, issue
from bedrock_gateway.core.targets import TARGET_NAME, load_targets

from .aws import session as aws_session
from .output import table

LOCAL_STATE = Path(".local/stack.json")
DEFAULT_STACK = "BedrockGateway-dev"


class KeysError(Exception):
    """Reported as one line on stderr (exit status 2)."""


@dataclass
class Place:
    """Where the keys live: the table (and, in AWS, the usage plan and the API Gateway client)."""

    store: DynamoKeyStore
    usage_plan: str | None = None
    apigateway: Any = None


def add_parser(groups: Any, common: argparse.ArgumentParser) -> None:
    """Register ``keys`` and its commands on the CLI's top-level subparsers."""
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--stack", default=DEFAULT_STACK, help=f"the deployed stack (default {DEFAULT_STACK})")
    where.add_argument("--local", action="store_true", help="the `make run` stack on this machine")
    where.add_argument("--table", help="the keys table, instead of reading it from the stack")
    where.add_argument("--usage-plan", help="with --table: the usage plan new keys join")
    keys = groups.add_parser(
        "keys",
        parents=[common],
        help="gateway API keys (auth=key, and the /model routes in every mode): create, list, rotate, revoke",
        description=__doc__.split("\n\n")[0],
        epilog="examples:\n  keys create --tenant team-a --targets claude,nova --expires-in-days 90\n"
        "  keys list\n  keys rotate k-0123456789ab --grace-minutes 60\n  keys revoke k-0123456789ab\n"
        "  keys create --local --tenant team-b      # against `make run`",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    keys.set_defaults(help_parser=keys)
    commands = keys.add_subparsers(title="commands", metavar="COMMAND")
    create = commands.add_parser(
        "create", parents=[common, where], help="a new key; its secret is printed once"
    )
    create.add_argument(
        "--tenant", required=True, help="who the key's usage is billed to (letters, digits, - _)"
    )
    create.add_argument(
        "--targets",
        help="comma-separated targets the key may use (default: all); each must be in the targets file",
    )
    create.add_argument(
        "--no-target-check",
        action="store_true",
        help="issue the key even for targets the targets file does not have (yet)",
    )
    create.add_argument("--expires-in-days", type=int, help="the key stops working after this many days")
    create.set_defaults(run=_reporting(_create))
    listing = commands.add_parser("list", parents=[common, where], help="every key: tenant, targets, status")
    listing.set_defaults(run=_reporting(_list))
    rotate = commands.add_parser(
        "rotate",
        parents=[common, where],
        help="a new secret for a key's tenant and targets; the old one ends",
    )
    rotate.add_argument("key_id")
    rotate.add_argument("--grace-minutes", type=int, default=0, help="keep the old key working this long")
    rotate.set_defaults(run=_reporting(_rotate))
    revoke = commands.add_parser(
        "revoke", parents=[common, where], help="stop a key (within the authorizer's cache)"
    )
    revoke.add_argument("key_id")
    revoke.set_defaults(run=_reporting(_revoke))


def _reporting(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``command``, with an unreachable AWS endpoint reported as such (not as a Bedrock failure)."""

    def run(args: argparse.Namespace) -> int:
        from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

        try:
            return command(args)
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            if args.local:
                raise KeysError(
                    f"the local stack is not running ({exc}; from {LOCAL_STATE}): start it with make run"
                ) from None
            raise KeysError(f"cannot reach AWS: {exc}") from None

    return run


def _local_state() -> dict[str, Any] | None:
    """What the running ``make run`` stack wrote about itself (None when none runs from here)."""
    return json.loads(LOCAL_STATE.read_text()) if LOCAL_STATE.is_file() else None


def _local_targets_file(args: argparse.Namespace) -> str | None:
    """With ``--local``, the targets file the running ``make run`` stack loaded (it may not be the default)."""
    state = _local_state() if args.local else None
    return state.get("targets_file") if state else None


def _place(args: argparse.Namespace) -> Place:
    import boto3

    if args.local:
        state = _local_state()
        if state is None:
            raise KeysError(f"{LOCAL_STATE} not found: start the local stack first (make run)")
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=state["aws_endpoint"],
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        return Place(DynamoKeyStore(state["keys_table"], dynamodb))
    session = aws_session(args.region)
    table, usage_plan = args.table, args.usage_plan
    if table is None:
        outputs = _stack_outputs(session, args.stack)
        table, usage_plan = outputs.get("KeysTableName"), outputs.get("UsagePlanId")
        if table is None:
            raise KeysError(
                f"stack {args.stack} has no KeysTableName output: deploy this version of the gateway to it first"
            )
    apigateway = session.client("apigateway") if usage_plan else None
    return Place(DynamoKeyStore(table, session.client("dynamodb")), usage_plan, apigateway)


def _stack_outputs(session: Any, stack: str) -> dict[str, str]:
    described = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def _usage_key_for(place: Place, tenant: str):
    """A function making the API Gateway key that joins the usage plan, when there is one."""
    if place.usage_plan is None:
        return None

    def make(key_id: str) -> tuple[str, str]:
        created = place.apigateway.create_api_key(
            name=f"bedrock-gateway-{tenant}-{key_id}",
            description=f"usage identifier of gateway key {key_id} (tenant {tenant})",
            enabled=True,
            value=secrets.token_urlsafe(30),
        )
        place.apigateway.create_usage_plan_key(
            usagePlanId=place.usage_plan, keyId=created["id"], keyType="API_KEY"
        )
        return created["id"], created["value"]

    return make


def _targets(args: argparse.Namespace) -> tuple[str, ...]:
    names = tuple(t.strip() for t in (args.targets or "").split(",") if t.strip())
    config = (
        None if args.no_target_check or not names else load_targets(args.config or _local_targets_file(args))
    )
    if config is not None:
        # A key's allowlist holds target names; an alias (an old model ID) stands for its target.
        aliases = [
            f"{name} (an alias of {config.canonical_name(name)})"
            for name in names
            if name not in config.targets and config.canonical_name(name) in config.targets
        ]
        if aliases:
            raise KeysError(f"aliases, not target names: {', '.join(aliases)}; name the targets")
    bad = [name for name in names if not TARGET_NAME.match(name)]
    if bad:
        raise KeysError(f"not target names: {', '.join(bad)} (letters, digits, '-' and '_', at most 64)")
    if config is not None:
        # A misspelt name would make a key that every call is refused with: check it against the file.
        unknown = [name for name in names if config.canonical_name(name) not in config.targets]
        if unknown:
            raise KeysError(
                f"unknown targets: {', '.join(unknown)} ({config.source} has {', '.join(sorted(config.targets))}; "
                "--config names another targets file, --no-target-check issues the key as asked)"
            )
    return names


def _create(args: argparse.Namespace) -> int:
    if not TENANT_NAME.match(args.tenant):
        raise KeysError(
            f"tenant {args.tenant!r}: use letters, digits, '-' and '_' (1-64, starting alphanumeric)"
        )
    if args.expires_in_days is not None and args.expires_in_days < 1:
        raise KeysError("--expires-in-days must be at least 1")
    targets = _targets(args)  # before reaching AWS: a typo is reported whatever the credentials
    place = _place(args)
    expires_at = int(time.time()) + args.expires_in_days * 86400 if args.expires_in_days else None
    secret, record = issue(
        place.store,
        args.tenant,
        targets,
        expires_at=expires_at,
        usage_key_for=_usage_key_for(place, args.tenant),
    )
    _announce(args, secret, record)
    return 0


def _announce(args: argparse.Namespace, secret: str, record: KeyRecord) -> None:
    if args.json:
        print(json.dumps({"secret": secret, **_view(record)}, indent=2))
        return
    print(
        f"key {record.key_id}: tenant {record.tenant}, targets {', '.join(record.targets) or 'all'}, "
        f"expires {_date(record.expires_at)}"
    )
    print(f"secret (shown once, never stored; callers send 'Authorization: Bearer <secret>'):\n{secret}")


def _list(args: argparse.Namespace) -> int:
    records = _place(args).store.all()
    if args.json:
        print(json.dumps([_view(r) for r in records], indent=2))
        return 0

    rows = [
        [
            r.key_id,
            r.tenant,
            ",".join(r.targets) or "all",
            _status(r),
            _date(r.expires_at),
            _date(r.created_at),
        ]
        for r in records
    ]
    print(
        "\n".join(table(["KEY", "TENANT", "TARGETS", "STATUS", "EXPIRES", "CREATED"], rows))
        if rows
        else "(none)"
    )
    return 0


def _find(place: Place, key_id: str) -> KeyRecord:
    record = place.store.find(key_id)
    if record is None:
        raise KeysError(f"no key {key_id} (keys list shows them)")
    return record


def _rotate(args: argparse.Namespace) -> int:
    place = _place(args)
    old = _find(place, args.key_id)
    if old.status == REVOKED:
        raise KeysError(f"{old.key_id} is revoked: create a new key instead")
    secret, record = issue(
        place.store,
        old.tenant,
        old.targets,
        expires_at=old.expires_at,
        usage_key_for=_usage_key_for(place, old.tenant),
    )
    if args.grace_minutes > 0:
        place.store.set_status(old, old.status, expires_at=int(time.time()) + args.grace_minutes * 60)
    else:
        _end(place, old)
    _announce(args, secret, record)
    if not args.json:
        grace = f"keeps working for {args.grace_minutes} minutes" if args.grace_minutes > 0 else "is revoked"
        print(f"{old.key_id} {grace}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    place = _place(args)
    record = _find(place, args.key_id)
    _end(place, record)
    print(f"{record.key_id} revoked (API Gateway may accept it for up to 5 minutes, its authorizer cache)")
    return 0


def _end(place: Place, record: KeyRecord) -> None:
    place.store.set_status(record, REVOKED)
    if place.apigateway is not None and record.usage_key_id:
        place.apigateway.update_api_key(
            apiKey=record.usage_key_id,
            patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}],
        )


def _status(record: KeyRecord) -> str:
    if record.status == REVOKED:
        return "revoked"
    return "active" if record.valid() else "expired"


def _date(epoch: int | None) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC") if epoch else "never"


def _view(record: KeyRecord) -> dict[str, Any]:
    return {
        "keyId": record.key_id,
        "tenant": record.tenant,
        "targets": list(record.targets),
        "status": _status(record),
        "expiresAt": record.expires_at,
        "createdAt": record.created_at,
    }
