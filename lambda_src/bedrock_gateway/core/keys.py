"""Gateway API keys: what a key is, how it is stored (only its hash), and when it is valid.

A key is ``bgk_`` plus 43 URL-safe random characters, given to its holder once and never stored:
the keys table holds its SHA-256 and what the key may do (its tenant, an optional target
allowlist, an optional expiry). Callers send it as ``Authorization: Bearer <key>``, the form AWS
SDKs use for Bedrock API keys (``AWS_BEARER_TOKEN_BEDROCK``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bedrock_gateway.core.dynamo_values import from_dynamo, to_dynamo

PREFIX = "bgk_"
#: What a key looks like: the authorizer refuses anything else before looking it up.
KEY_FORMAT = re.compile(r"^bgk_[A-Za-z0-9_-]{43}$")
ACTIVE, REVOKED = "active", "revoked"


def new_secret() -> str:
    """A new key (256 random bits)."""
    return PREFIX + secrets.token_urlsafe(32)


def key_hash(secret: str) -> str:
    """The only form of a key that is ever stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class KeyRecord:
    """One key, as the keys table holds it."""

    key_hash: str
    key_id: str  # public: names the key in listings, logs and the CLI
    tenant: str
    targets: tuple[str, ...] = ()  # empty: every target
    expires_at: int | None = None  # epoch seconds
    status: str = ACTIVE
    created_at: int = field(default_factory=lambda: int(time.time()))
    usage_key_id: str | None = None  # the API Gateway API key that ties it to a usage plan
    usage_key: str | None = None  # that key's value, which the authorizer hands to API Gateway

    def valid(self, now: float | None = None) -> bool:
        if self.status != ACTIVE:
            return False
        return self.expires_at is None or (now if now is not None else time.time()) < self.expires_at

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "keyHash": self.key_hash,
            "keyId": self.key_id,
            "tenant": self.tenant,
            "status": self.status,
            "createdAt": self.created_at,
        }
        if self.targets:
            item["targets"] = list(self.targets)
        for name, value in (
            ("expiresAt", self.expires_at),
            ("usageKeyId", self.usage_key_id),
            ("usageKey", self.usage_key),
        ):
            if value is not None:
                item[name] = value
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> KeyRecord:
        expires = item.get("expiresAt")
        return cls(
            key_hash=item["keyHash"],
            key_id=item["keyId"],
            tenant=item["tenant"],
            targets=tuple(item.get("targets") or ()),
            expires_at=int(expires) if expires is not None else None,
            status=item.get("status", ACTIVE),
            created_at=int(item.get("createdAt", 0)),
            usage_key_id=item.get("usageKeyId"),
            usage_key=item.get("usageKey"),
        )


class DynamoKeyStore:
    """Key records in DynamoDB, by hash (partition key ``keyHash``)."""

    def __init__(self, table: str, dynamodb: Any):
        self.table = table
        self.dynamodb = dynamodb

    def _record(self, item: dict) -> KeyRecord:
        return KeyRecord.from_item({k: from_dynamo(v) for k, v in item.items()})

    def get(self, hashed: str) -> KeyRecord | None:
        item = self.dynamodb.get_item(TableName=self.table, Key={"keyHash": {"S": hashed}}).get("Item")
        return self._record(item) if item else None

    def put(self, record: KeyRecord) -> None:
        """Store a new key (never over another: a hash collision would be a bug)."""
        self.dynamodb.put_item(
            TableName=self.table,
            Item={k: to_dynamo(v) for k, v in record.to_item().items()},
            ConditionExpression="attribute_not_exists(keyHash)",
        )

    def all(self) -> list[KeyRecord]:
        """Every key (the table holds one small item per key: a scan is the listing)."""
        records: list[KeyRecord] = []
        params: dict[str, Any] = {"TableName": self.table}
        while True:
            page = self.dynamodb.scan(**params)
            records.extend(self._record(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(records, key=lambda r: (r.tenant, r.created_at))
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def find(self, key_id: str) -> KeyRecord | None:
        return next((r for r in self.all() if r.key_id == key_id), None)

    def set_status(self, record: KeyRecord, status: str, expires_at: int | None = None) -> None:
        values: dict[str, Any] = {":status": {"S": status}}
        expression = "SET #status = :status"
        if expires_at is not None:
            expression += ", expiresAt = :expires"
            values[":expires"] = {"N": str(expires_at)}
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"keyHash": {"S": record.key_hash}},
            UpdateExpression=expression,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )


def issue(
    store: DynamoKeyStore,
    tenant: str,
    targets: tuple[str, ...] = (),
    *,
    expires_at: int | None = None,
    usage_key_for: Callable[[str], tuple[str, str]] | None = None,
) -> tuple[str, KeyRecord]:
    """Make and store a new key for ``tenant``; returns its secret (shown once, never stored) and record.

    ``usage_key_for(key_id)`` makes the API Gateway API key that ties the key to a usage plan and
    returns its (id, value).
    """
    secret = new_secret()
    hashed = key_hash(secret)
    key_id = "k-" + hashed[:12]
    usage_key_id, usage_key = usage_key_for(key_id) if usage_key_for else (None, None)
    record = KeyRecord(
        hashed, key_id, tenant, targets, expires_at, usage_key_id=usage_key_id, usage_key=usage_key
    )
    store.put(record)
    return secret, record
