"""Helpers for the infra tests: the synthesized configurations tests share, evaluate template ARNs,
collect IAM statements per role."""

from __future__ import annotations

import json
from typing import Any

# Resolving pseudo parameters with these turns template ARNs into plain strings to compare.
REGION, ACCOUNT, PARTITION = "eu-west-1", "111122223333", "aws"
#: One context per auth mode; tests reuse exactly these so each mode is synthesized once per session.
AUTH_CONTEXTS: dict[str, dict[str, str]] = {
    "iam": {},
    "key": {"auth": "key", "keyRateLimit": "5", "keyBurstLimit": "9", "keyQuotaPerDay": "1000"},
    "apiKey": {"auth": "apiKey", "workerMaxConcurrency": "7", "maxReceiveCount": "3", "stage": "qa"},
    "none": {"auth": "none"},
}


def resolve(value: Any, region: str = REGION, account: str = ACCOUNT, partition: str = PARTITION) -> Any:
    """Template values with pseudo parameters and ``Fn::Join`` evaluated (other intrinsics left as is)."""
    pseudo = {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": partition,
        "AWS::URLSuffix": "amazonaws.com",
    }
    if isinstance(value, list):
        return [resolve(v, region, account, partition) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in pseudo:
            return pseudo[value["Ref"]]
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            parts = [resolve(p, region, account, partition) for p in parts]
            if all(isinstance(p, str) for p in parts):
                return separator.join(parts)
            return {"Fn::Join": [separator, parts]}
        return {k: resolve(v, region, account, partition) for k, v in value.items()}
    return value


def statements(synth, role_logical_prefix: str | None = None) -> list[dict[str, Any]]:
    """Every IAM statement in the template's policies (optionally only those of roles whose
    logical id starts with ``role_logical_prefix``), with list-valued Action/Resource."""
    found = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        roles = [r.get("Ref", "") for r in policy["Properties"].get("Roles", [])]
        if role_logical_prefix and not any(r.startswith(role_logical_prefix) for r in roles):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            statement = dict(statement)
            for key in ("Action", "Resource"):
                if key in statement and not isinstance(statement[key], list):
                    statement[key] = [statement[key]]
            found.append(statement)
    return found


def actions_of(synth, role_logical_prefix: str) -> set[str]:
    return {a for s in statements(synth, role_logical_prefix) for a in s["Action"]}


def resources_for(synth, role_logical_prefix: str, action: str, region: str = REGION) -> set[str]:
    """Resolved resource ARNs ``action`` is allowed on for one role (other intrinsics as JSON text)."""
    return {
        r if isinstance(r, str) else json.dumps(r, sort_keys=True)
        for s in statements(synth, role_logical_prefix)
        if action in s["Action"]
        for r in resolve(s["Resource"], region=region)
    }
