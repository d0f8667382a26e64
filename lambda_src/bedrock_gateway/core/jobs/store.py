"""The job store: one record per job. The record is the job's state, its lock and its outcome.

States only move forward, ``queued -> running -> succeeded | failed``, through conditional writes:

- :meth:`DynamoJobStore.claim` moves a job to ``running`` under a **lease**: an owner token and an
  expiry no earlier than the moment Lambda would kill the invocation holding it (its deadline plus
  :data:`LEASE_MARGIN_MS`). One delivery holds a job at a time; a lease left by a dead invocation
  (killed, timed out, out of memory) expires by itself, before the queue can deliver the job again.
- :meth:`~DynamoJobStore.succeed` and :meth:`~DynamoJobStore.fail` write the outcome, only while the
  writer still holds the lease (:class:`Held`), and keep the owner token: a retried write that had in
  fact been applied recognises itself. Once final, a record never changes again...
- ...except by :meth:`~DynamoJobStore.claim` from a message *sent after* the job was dead-lettered
  (a DLQ redrive), which starts it again.
- :meth:`~DynamoJobStore.dead_letter` (the DLQ consumer) fails a job whose message ran out of
  deliveries, unless it is final or a live lease says another delivery is still running it.

**While a lease is held, only its holder writes the record.** The outcome is the claimed record put
whole (one PutItem, refused unless the writer still holds the lease), so a new kind of write to a
leased record (a cancel, a lease extension) must take the lease itself or be refused while it is
live; otherwise the holder's outcome would silently undo it.

Records are keyed by :attr:`JobRequest.key` (the job id inside its caller's namespace, from
:func:`~bedrock_gateway.core.jobs.contract.job_key`); the methods that take a ``key`` take that key.
:class:`JobStore` is the interface the doors use; :class:`DynamoJobStore` implements it on DynamoDB
(partition key ``jobId``).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from bedrock_gateway.core.dynamo_values import from_dynamo, to_dynamo
from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.jobs.contract import (
    DEAD_LETTERED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    TERMINAL,
    JobRequest,
)

RETENTION_SECONDS = 30 * 24 * 3600  # DynamoDB TTL on job records
#: A lease outlives its holder's deadline by this much: covers the clock skew between the host that
#: wrote it and the one that reads it. The jobs queue's visibility timeout must exceed the worker's
#: timeout by at least this (the infra and local stacks check it), so a delivery that follows a dead
#: one always finds the lease expired.
LEASE_MARGIN_MS = 2_000
#: The DynamoDB operations the worker's store calls make: its role is granted these and no more.
WORKER_OPERATIONS = ("PutItem", "UpdateItem")
DEAD_LETTER_MESSAGE = (
    "the job ran out of deliveries; its message is in the dead-letter queue (a redrive starts it again)"
)


class JobStore(Protocol):
    def create(self, job: JobRequest) -> tuple[dict[str, Any], bool]: ...
    def delete_if_queued(self, key: str) -> None: ...
    def get(self, key: str) -> dict[str, Any] | None: ...
    def claim(
        self,
        job: JobRequest,
        owner: str,
        lease_until_ms: int,
        sent_at_ms: int | None,
        *,
        unrecorded: bool = False,
    ) -> Claim: ...
    def release(self, key: str, owner: str, error: GatewayError) -> bool: ...
    def succeed(
        self,
        held: Held,
        usage: dict[str, int | None],
        *,
        result: str | None = None,
        result_key: str | None = None,
    ) -> bool: ...
    def fail(self, held: Held, error: GatewayError) -> bool: ...
    def reject_new(self, key: str, error: GatewayError) -> bool: ...
    def dead_letter(self, job: JobRequest) -> DeadLetter: ...


@dataclass(frozen=True)
class Held:
    """A job one delivery holds the lease on: the lease's owner token and the record as the claim left
    it (in DynamoDB's JSON), which no one else writes while the lease is held."""

    owner: str
    item: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Claim:
    """What :meth:`DynamoJobStore.claim` got: the lease (``held``), or the record that refused it
    (``conflict``: because the job id is another request's)."""

    held: Held | None = None
    record: dict[str, Any] | None = None
    conflict: bool = False

    @property
    def claimed(self) -> bool:
        return self.held is not None

    @property
    def leased_until_ms(self) -> int | None:
        """When another delivery's live lease on the job expires (None: the job is not leased)."""
        if self.claimed or not self.record or self.record.get("status") != RUNNING:
            return None
        return self.record.get("leaseExpiresAt")


@dataclass(frozen=True)
class DeadLetter:
    """What :meth:`DynamoJobStore.dead_letter` did: ``marked`` it now, found it ``already`` marked,
    found it ``final`` (nothing to redrive), found it ``leased`` (until ``leased_until_ms``), or found
    the job id another request's (``conflict``)."""

    outcome: str
    leased_until_ms: int | None = None


def now_ms() -> int:
    return int(time.time() * 1000)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def request_hash(job: JobRequest) -> str:
    return hashlib.sha256(job.canonical_request().encode()).hexdigest()


def _error(error: GatewayError) -> dict[str, str]:
    return {"code": str(error.code), "message": error.message}


# Conditions shared by the writes below (names as in _NAMES).
_LEASE_EXPIRED = "attribute_not_exists(#leaseExpiresAt) OR #leaseExpiresAt < :now"
_HELD_BY_OWNER = "#status = :running AND #leaseOwner = :owner"

#: The claim's update: running, leased, one more attempt; a new record also gets its target, dates and
#: request hash (a job sent straight to the queue has no record before), and a redriven one loses its
#: error and end.
CLAIM_UPDATE = (
    "SET #status = :running, #target = :target, startedAt = :nowIso, updatedAt = :nowIso, "
    "#leaseOwner = :owner, #leaseExpiresAt = :lease, "
    "#attempts = if_not_exists(#attempts, :zero) + :one, "
    "createdAt = if_not_exists(createdAt, :nowIso), expiresAt = if_not_exists(expiresAt, :ttl), "
    "#requestHash = if_not_exists(#requestHash, :hash) "
    "REMOVE #error, finishedAt, #deadLetteredAt"
)
#: Only the request a job id was first used for runs under it (records from before the hash have none).
_SAME_REQUEST = "(attribute_not_exists(#requestHash) OR #requestHash = :hash)"
#: The request hash of a malformed message's record: no request's, so its job id stays its own.
MALFORMED_REQUEST = "malformed"


def _another_requests(record: dict[str, Any], job_hash: str) -> bool:
    """Whether a record that refused a write holds another request than the one hashed ``job_hash``."""
    return record.get("requestHash") not in (None, job_hash)


_NAMES = {
    "#status": "status",
    "#error": "error",
    "#target": "target",
    "#leaseOwner": "leaseOwner",
    "#leaseExpiresAt": "leaseExpiresAt",
    "#deadLetteredAt": "deadLetteredAt",
    "#attempts": "attempts",
    "#usage": "usage",
    "#result": "result",
    "#resultKey": "resultKey",
    "#lastError": "lastError",
    "#requestHash": "requestHash",
}


class DynamoJobStore:
    """:class:`JobStore` on a DynamoDB table. Every write is conditional: a PutItem where it creates a
    record or replaces a held one whole, an UpdateItem otherwise."""

    def __init__(self, table: str, dynamodb: Any):
        self.table = table
        self.dynamodb = dynamodb

    def _key(self, key: str) -> dict:
        return {"jobId": {"S": key}}

    def _values(self, values: dict[str, Any]) -> dict:
        return {k: to_dynamo(v) for k, v in values.items()}

    def _record(self, item: dict) -> dict[str, Any]:
        return {k: _plain(from_dynamo(v)) for k, v in item.items()}

    # ---- the jobs API ----

    def create(self, job: JobRequest) -> tuple[dict[str, Any], bool]:
        """Record a queued job; returns (record, created). An existing job id returns it unchanged."""
        job_hash = request_hash(job)
        item = _first_record(job, QUEUED, _now(), job_hash, attempts=0)
        applied, refused = self._put_new(self._values(item))
        if applied:
            return item, True
        existing = self._record(refused) if refused else self.get(job.key)
        if existing is None:  # deleted since (a failed enqueue's undo): try once more
            return self.create(job)
        if _another_requests(existing, job_hash):
            raise GatewayError(
                ErrorCode.CONFLICT, f"job {job.job_id!r} already exists with a different target or body"
            )
        return existing, False

    def delete_if_queued(self, key: str) -> None:
        """Undo :meth:`create` when the message could not be enqueued, so a retry can start clean."""
        condition = "#status = :queued"
        try:
            self.dynamodb.delete_item(
                TableName=self.table,
                Key=self._key(key),
                ConditionExpression=condition,
                ExpressionAttributeNames=_names(condition),
                ExpressionAttributeValues=self._values({":queued": QUEUED}),
            )
        except Exception as exc:
            if not _refused(exc):
                raise

    def get(self, key: str) -> dict[str, Any] | None:
        response = self.dynamodb.get_item(TableName=self.table, Key=self._key(key), ConsistentRead=True)
        item = response.get("Item")
        return None if item is None else self._record(item)

    # ---- the worker ----

    def claim(
        self,
        job: JobRequest,
        owner: str,
        lease_until_ms: int,
        sent_at_ms: int | None,
        *,
        unrecorded: bool = False,
    ) -> Claim:
        """Take the job for one attempt: ``running``, leased to ``owner`` until ``lease_until_ms``.

        Granted when the job is new, queued, running under an expired lease (its holder died) or
        already leased to ``owner`` (a retried call that had in fact been applied), or failed as
        dead-lettered before ``sent_at_ms`` (this message is a redrive), and only for the request
        (target and body) the job id was first used for. Refused otherwise, with the record that
        refused it: final, leased to another delivery until ``leaseExpiresAt``, or another request's.

        ``unrecorded``: the job most likely has no record yet (a producer's first delivery). Then a
        conditional PutItem that only creates records comes first, and only a record in its way costs
        the conditional update after it (a second write: DynamoDB charges a refused conditional write
        like an applied one). In DynamoDB the put costs what the update does; the local stand-in (moto)
        evaluates it in under 1 ms, and an update in about 1 ms per action of its expression.
        """
        now = _now()
        job_hash = request_hash(job)
        if unrecorded and (item := self._create_running(job, owner, lease_until_ms, now, job_hash)):
            return Claim(held=Held(owner, item))
        values = {
            ":queued": QUEUED,
            ":running": RUNNING,
            ":failed": FAILED,
            ":owner": owner,
            ":lease": lease_until_ms,
            ":now": now_ms(),
            ":sent": sent_at_ms if sent_at_ms is not None else -1,
            ":target": job.target,
            ":nowIso": now,
            ":ttl": _expires_at(),
            ":zero": 0,
            ":one": 1,
            ":hash": job_hash,
        }
        applied, item = self._write(
            self.dynamodb.update_item,
            **self._update_params(
                job.key,
                CLAIM_UPDATE,
                "attribute_not_exists(jobId) OR (("
                "#status = :queued "
                f"OR (#status = :running AND ({_LEASE_EXPIRED} OR #leaseOwner = :owner)) "
                f"OR (#status = :failed AND #deadLetteredAt < :sent)) AND {_SAME_REQUEST})",
                values,
            ),
            ReturnValues="ALL_NEW",
        )
        if applied:
            return Claim(held=Held(owner, item))
        refused = self._record(item)
        return Claim(record=refused, conflict=_another_requests(refused, job_hash))

    def _create_running(
        self, job: JobRequest, owner: str, lease_until_ms: int, now: str, job_hash: str
    ) -> dict[str, Any] | None:
        """The record :data:`CLAIM_UPDATE` makes where there is none, made by a put (None if one exists)."""
        put = self._values(
            _first_record(
                job,
                RUNNING,
                now,
                job_hash,
                startedAt=now,
                leaseOwner=owner,
                leaseExpiresAt=lease_until_ms,
                attempts=1,
            )
        )
        applied, _ = self._put_new(put)
        return put if applied else None

    def release(self, key: str, owner: str, error: GatewayError) -> bool:
        """Give the lease back after a failed attempt, noting why; the job stays running (retried)."""
        refused = self._update(
            key,
            "SET #lastError = :error, updatedAt = :nowIso REMOVE #leaseExpiresAt",
            _HELD_BY_OWNER,
            {":error": _error(error), ":nowIso": _now(), ":running": RUNNING, ":owner": owner},
        )
        return refused is None

    def succeed(
        self,
        held: Held,
        usage: dict[str, int | None],
        *,
        result: str | None = None,
        result_key: str | None = None,
    ) -> bool:
        """Finish the job with its result inline (``result``) or in result storage (``result_key``).

        False when ``held`` is no longer held (the job was finished by another delivery).
        """
        outcome = {"resultKey": result_key} if result_key is not None else {"result": result}
        return self._finish(
            held, SUCCEEDED, {"usage": {k: v for k, v in usage.items() if v is not None}, **outcome}
        )

    def fail(self, held: Held, error: GatewayError) -> bool:
        """Finish the job as failed for good (a permanent error); False as for :meth:`succeed`."""
        return self._finish(held, FAILED, {"error": _error(error)})

    def _finish(self, held: Held, status: str, fields: dict[str, Any]) -> bool:
        # While the lease is held no one else writes the record, so the final record is the claimed one
        # with the outcome, put whole: the same one write in DynamoDB as an update, and a fraction of the
        # local stand-in's CPU (moto spends about 1 ms per action of an update expression).
        now = _now()
        final = {k: v for k, v in held.item.items() if k not in ("lastError", "leaseExpiresAt")}
        final.update(self._values({"status": status, "finishedAt": now, "updatedAt": now, **fields}))
        applied, item = self._write(
            self.dynamodb.put_item,
            Item=final,
            ConditionExpression=_HELD_BY_OWNER,
            ExpressionAttributeNames=_names(_HELD_BY_OWNER),
            ExpressionAttributeValues=self._values({":running": RUNNING, ":owner": held.owner}),
        )
        if applied:
            return True
        # Refused: either this very write had been applied and its answer lost (a retried call), or
        # the lease had gone to another delivery, which finished the job.
        refused = self._record(item)
        return refused.get("status") == status and refused.get("leaseOwner") == held.owner

    def reject_new(self, key: str, error: GatewayError) -> bool:
        """Record a failed job under ``key`` (a malformed message), but never over an existing job."""
        now = _now()
        refused = self._update(
            key,
            "SET #status = :failed, #error = :error, createdAt = :nowIso, updatedAt = :nowIso, "
            "finishedAt = :nowIso, expiresAt = :ttl, #attempts = :zero, #requestHash = :hash",
            "attribute_not_exists(jobId)",
            {
                ":hash": MALFORMED_REQUEST,
                ":failed": FAILED,
                ":error": _error(error),
                ":nowIso": now,
                ":ttl": _expires_at(),
                ":zero": 0,
            },
        )
        return refused is None

    # ---- the DLQ consumer ----

    def dead_letter(self, job: JobRequest) -> DeadLetter:
        """Fail a job whose message is in the dead-letter queue (``error.code`` ``DeadLettered``).

        Only a job that is new, queued, or running under no live lease, and only for the request its
        id was first used for: a final job is left as it is, a job another delivery still holds is
        left to it (ask again once its lease expires), and another request's job is not touched.
        """
        now = _now()
        job_hash = request_hash(job)
        values = {
            ":queued": QUEUED,
            ":running": RUNNING,
            ":failed": FAILED,
            ":error": {"code": DEAD_LETTERED, "message": DEAD_LETTER_MESSAGE},
            ":now": now_ms(),
            ":nowIso": now,
            ":ttl": _expires_at(),
            ":zero": 0,
            ":target": job.target,
            ":hash": job_hash,
        }
        refused = self._update(
            job.key,
            "SET #status = :failed, #error = :error, #deadLetteredAt = :now, finishedAt = :nowIso, "
            "updatedAt = :nowIso, #target = if_not_exists(#target, :target), "
            "createdAt = if_not_exists(createdAt, :nowIso), expiresAt = if_not_exists(expiresAt, :ttl), "
            "#attempts = if_not_exists(#attempts, :zero), #requestHash = if_not_exists(#requestHash, :hash) "
            "REMOVE #leaseExpiresAt",
            "attribute_not_exists(jobId) OR ((#status = :queued "
            f"OR (#status = :running AND ({_LEASE_EXPIRED}))) AND {_SAME_REQUEST})",
            values,
        )
        if refused is None:
            return DeadLetter("marked")
        if _another_requests(refused, job_hash):
            return DeadLetter("conflict")
        if refused.get("status") == FAILED and refused.get("deadLetteredAt") is not None:
            return DeadLetter("already")
        if refused.get("status") in TERMINAL:
            return DeadLetter("final")
        return DeadLetter("leased", refused.get("leaseExpiresAt"))

    # ---- plumbing ----

    def _update(
        self, key: str, expression: str, condition: str, values: dict[str, Any]
    ) -> dict[str, Any] | None:
        """One conditional UpdateItem; None when applied, else the record that refused it ({} if none)."""
        applied, item = self._write(
            self.dynamodb.update_item, **self._update_params(key, expression, condition, values)
        )
        return None if applied else self._record(item)

    def _update_params(
        self, key: str, expression: str, condition: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "Key": self._key(key),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": _names(expression, condition),
            "ExpressionAttributeValues": self._values(values),
        }

    def _put_new(self, item: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Put ``item`` (in DynamoDB's JSON) as a job's first record, never over one: as :meth:`_write`."""
        return self._write(
            self.dynamodb.put_item, Item=item, ConditionExpression="attribute_not_exists(jobId)"
        )

    def _write(self, write: Any, **params: Any) -> tuple[bool, dict[str, Any]]:
        """One conditional write (``write``: put_item or update_item): (True, the attributes it asked
        back) when applied, (False, the item that refused it, {} if none) when refused; both in
        DynamoDB's JSON."""
        try:
            response = write(TableName=self.table, ReturnValuesOnConditionCheckFailure="ALL_OLD", **params)
            return True, response.get("Attributes", {})
        except Exception as exc:
            if not _refused(exc):
                raise
            return False, getattr(exc, "response", {}).get("Item") or {}


def _names(*expressions: str) -> dict[str, str]:
    """The ExpressionAttributeNames the ``#names`` in ``expressions`` stand for (from _NAMES)."""
    return {name: _NAMES[name] for name in set(re.findall(r"#\w+", " ".join(expressions)))}


def _first_record(job: JobRequest, status: str, now: str, job_hash: str, **fields: Any) -> dict[str, Any]:
    """A job's record where it had none: what every job's record holds from the start, and ``fields``."""
    return {
        "jobId": job.key,
        "status": status,
        "target": job.target,
        "createdAt": now,
        "updatedAt": now,
        "expiresAt": _expires_at(),
        "requestHash": job_hash,
        **fields,
    }


def _expires_at() -> int:
    """A record's DynamoDB TTL (epoch seconds): :data:`RETENTION_SECONDS` from now."""
    return int(time.time()) + RETENTION_SECONDS


def _refused(exc: Exception) -> bool:
    """Whether DynamoDB refused a write on its condition (anything else is an error to raise)."""
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the API speaks plain JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
