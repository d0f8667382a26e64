"""The job store: one record per job, whose status only moves forward.

queued -> running -> succeeded | failed, enforced with conditional writes, so a late or duplicate
delivery can never undo a finished job. Records are keyed by :attr:`JobRequest.key` (the job id in its
caller's namespace); the methods that take a ``job_id`` take that key. :class:`JobStore` is the interface the doors use;
:class:`DynamoJobStore` implements it on DynamoDB (partition key ``jobId``).
"""

from __future__ import annotations

import hashlib
import time
from decimal import Decimal
from typing import Any, Protocol

from bedrock_gateway.core.errors import ErrorCode, GatewayError
from bedrock_gateway.core.jobs.contract import FAILED, QUEUED, RUNNING, SUCCEEDED, JobRequest

RETENTION_SECONDS = 30 * 24 * 3600  # DynamoDB TTL on job records


class JobStore(Protocol):
    def create(self, job: JobRequest) -> tuple[dict[str, Any], bool]: ...
    def delete_if_queued(self, job_id: str) -> None: ...
    def get(self, job_id: str) -> dict[str, Any] | None: ...
    def start_attempt(self, job: JobRequest) -> bool: ...
    def note_transient_error(self, job_id: str, error: GatewayError) -> None: ...
    def succeed(
        self,
        job_id: str,
        usage: dict[str, int | None],
        *,
        result: str | None = None,
        result_key: str | None = None,
    ) -> bool: ...
    def fail(
        self,
        job_id: str,
        error: GatewayError,
        target: str | None = None,
        *,
        dead_lettered: bool = False,
        only_if_new: bool = False,
    ) -> bool: ...


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def request_hash(job: JobRequest) -> str:
    return hashlib.sha256(job.canonical_request().encode()).hexdigest()


def _error(error: GatewayError) -> dict[str, str]:
    return {"code": str(error.code), "message": error.message}


class _Update:
    """One conditional UpdateItem: SET/REMOVE clauses, allowed source statuses, names and values."""

    def __init__(self, allowed_from: tuple[str, ...]):
        self.sets: list[str] = []
        self.removes: list[str] = []
        self.names = {"#status": "status"}
        self.values: dict[str, Any] = {f":from{i}": status for i, status in enumerate(allowed_from)}
        self.conditions = [f"#status = :from{i}" for i in range(len(allowed_from))]

    def set(self, field: str, value: Any, *, if_missing: bool = False) -> None:
        self.names[f"#{field}"] = field
        self.values[f":{field}"] = value
        self.sets.append(
            f"#{field} = if_not_exists(#{field}, :{field})" if if_missing else f"#{field} = :{field}"
        )

    def increment(self, field: str) -> None:
        self.names[f"#{field}"] = field
        self.values.update({":zero": 0, ":one": 1})
        self.sets.append(f"#{field} = if_not_exists(#{field}, :zero) + :one")

    def remove(self, *fields: str) -> None:
        for field in fields:
            self.names[f"#{field}"] = field
            self.removes.append(f"#{field}")

    def allow_dead_lettered(self) -> None:
        """Also from ``failed`` when the job failed by running out of deliveries (a DLQ redrive)."""
        self.names["#deadLettered"] = "deadLettered"
        self.values.update({":failed": FAILED, ":true": True})
        self.conditions.append("(#status = :failed AND #deadLettered = :true)")

    def expression(self) -> str:
        return "SET " + ", ".join(self.sets) + (" REMOVE " + ", ".join(self.removes) if self.removes else "")

    def condition(self, *, create: bool) -> str:
        if create:
            return " OR ".join(["attribute_not_exists(jobId)", *self.conditions])
        return f"attribute_exists(jobId) AND ({' OR '.join(self.conditions)})"


class DynamoJobStore:
    """:class:`JobStore` on a DynamoDB table."""

    def __init__(self, table: str, dynamodb: Any):
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.table = table
        self.dynamodb = dynamodb
        self._serialize = TypeSerializer().serialize
        self._deserialize = TypeDeserializer().deserialize

    def _key(self, job_id: str) -> dict:
        return {"jobId": {"S": job_id}}

    def _values(self, values: dict[str, Any]) -> dict:
        return {k: self._serialize(v) for k, v in values.items()}

    def create(self, job: JobRequest) -> tuple[dict[str, Any], bool]:
        """Record a queued job; returns (record, created). An existing job id returns it unchanged."""
        now = _now()
        item = {
            "jobId": job.key,
            "status": QUEUED,
            "target": job.target,
            "attempts": 0,
            "createdAt": now,
            "updatedAt": now,
            "expiresAt": int(time.time()) + RETENTION_SECONDS,
            "requestHash": request_hash(job),
        }
        if self._conditional(
            self.dynamodb.put_item,
            TableName=self.table,
            Item=self._values(item),
            ConditionExpression="attribute_not_exists(jobId)",
        ):
            return item, True
        existing = self.get(job.key)
        if existing is None:  # deleted between the two calls: try once more
            return self.create(job)
        if existing.get("requestHash") not in (None, item["requestHash"]):
            raise GatewayError(
                ErrorCode.CONFLICT, f"job {job.job_id!r} already exists with a different target or body"
            )
        return existing, False

    def delete_if_queued(self, job_id: str) -> None:
        """Undo :meth:`create` when the message could not be enqueued, so a retry can start clean."""
        self._conditional(
            self.dynamodb.delete_item,
            TableName=self.table,
            Key=self._key(job_id),
            ConditionExpression="#s = :queued",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=self._values({":queued": QUEUED}),
        )

    def get(self, job_id: str) -> dict[str, Any] | None:
        response = self.dynamodb.get_item(TableName=self.table, Key=self._key(job_id), ConsistentRead=True)
        item = response.get("Item")
        if item is None:
            return None
        return {k: _plain(self._deserialize(v)) for k, v in item.items()}

    def start_attempt(self, job: JobRequest) -> bool:
        """Mark the job running and count the attempt; False once it has finished for good.

        A job failed by the DLQ path can start again (a redrive of its message), clean of that failure.
        """
        update = _Update((QUEUED, RUNNING))
        self._set_status(update, RUNNING, target=job.target, startedAt=_now())
        update.increment("attempts")
        update.remove("error", "finishedAt", "deadLettered")
        update.allow_dead_lettered()
        return self._apply(job.key, update, create=True)

    def note_transient_error(self, job_id: str, error: GatewayError) -> None:
        """Record why the latest attempt failed; the job stays running and will be retried."""
        update = _Update((RUNNING,))
        update.set("lastError", _error(error))
        update.set("updatedAt", _now())
        self._apply(job_id, update)

    def succeed(
        self,
        job_id: str,
        usage: dict[str, int | None],
        *,
        result: str | None = None,
        result_key: str | None = None,
    ) -> bool:
        """Finish the job with its result inline (``result``) or in result storage (``result_key``)."""
        update = _Update((QUEUED, RUNNING))
        outcome: dict[str, Any] = {"resultKey": result_key} if result_key is not None else {"result": result}
        self._set_status(
            update,
            SUCCEEDED,
            finishedAt=_now(),
            usage={k: v for k, v in usage.items() if v is not None},
            **outcome,
        )
        update.remove("lastError")
        return self._apply(job_id, update)

    def fail(
        self,
        job_id: str,
        error: GatewayError,
        target: str | None = None,
        *,
        dead_lettered: bool = False,
        only_if_new: bool = False,
    ) -> bool:
        """Finish the job as failed. ``dead_lettered``: its message goes to the DLQ (a redrive may
        restart it). ``only_if_new``: never touch an existing job (a malformed message naming one)."""
        update = _Update(() if only_if_new else (QUEUED, RUNNING))
        fields: dict[str, Any] = {"finishedAt": _now(), "error": _error(error)}
        if target is not None:
            fields["target"] = target
        if dead_lettered:
            fields["deadLettered"] = True
        self._set_status(update, FAILED, **fields)
        return self._apply(job_id, update, create=True)

    def _set_status(self, update: _Update, status: str, **fields: Any) -> None:
        for name, value in {"status": status, "updatedAt": _now(), **fields}.items():
            update.set(name, value)

    def _apply(self, job_id: str, update: _Update, *, create: bool = False) -> bool:
        """Run ``update``; False when its condition refused it. ``create``: also when the job is new."""
        if create:
            update.set("createdAt", update.values[":updatedAt"], if_missing=True)
            update.set("expiresAt", int(time.time()) + RETENTION_SECONDS, if_missing=True)
        return self._conditional(
            self.dynamodb.update_item,
            TableName=self.table,
            Key=self._key(job_id),
            UpdateExpression=update.expression(),
            ConditionExpression=update.condition(create=create),
            ExpressionAttributeNames=update.names,
            ExpressionAttributeValues=self._values(update.values),
        )

    @staticmethod
    def _conditional(call, **params: Any) -> bool:
        """``call(**params)``; False when DynamoDB refused it on its condition."""
        from botocore.exceptions import ClientError

        try:
            call(**params)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the API speaks plain JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
