"""Jobs: the SQS message contract and the DynamoDB/S3 job store.

A job's status only moves forward (queued -> running -> succeeded | failed), enforced with
conditional writes, so a late or duplicate delivery can never undo a finished job. Results are
stored inline when small and in S3 (encrypted, fetched through a presigned URL) when large.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .errors import ErrorCode, GatewayError

JOB_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
TERMINAL = (SUCCEEDED, FAILED)
DEFAULT_INLINE_RESULT_BYTES = 64 * 1024
RESULT_URL_SECONDS = 3600
RETENTION_SECONDS = 30 * 24 * 3600  # DynamoDB TTL on job records

# JSON Schema for POST /v1/jobs and for SQS messages (validated with Powertools' validator).
JOB_SCHEMA = {
    "type": "object",
    "required": ["target", "body"],
    "additionalProperties": False,
    "properties": {
        "jobId": {"type": "string", "pattern": JOB_ID.pattern},
        "target": {"type": "string", "minLength": 1, "maxLength": 2048},
        "body": {"type": "object"},
    },
}


@dataclass(frozen=True)
class JobRequest:
    """A validated job: id, target name and the model body."""

    job_id: str
    target: str
    body: dict[str, Any]

    def message(self) -> str:
        """The SQS message body (SPEC's contract)."""
        return json.dumps(
            {"jobId": self.job_id, "target": self.target, "body": self.body}, separators=(",", ":")
        )


@functools.cache
def _job_validator():
    # fastjsonschema is the engine behind Powertools' validator, whose validate() generates and
    # compiles the validator on every call (milliseconds per job); compiled once here instead.
    import fastjsonschema

    return fastjsonschema.compile(JOB_SCHEMA)


def parse_job(payload: dict[str, Any], default_job_id: str | None = None) -> JobRequest:
    """Validate a job payload against :data:`JOB_SCHEMA`; a 400 GatewayError says what is wrong."""
    import fastjsonschema

    try:
        _job_validator()(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise GatewayError(ErrorCode.INVALID_REQUEST, f"invalid job: {exc.message}") from None
    return JobRequest(
        payload.get("jobId") or default_job_id or str(uuid.uuid4()), payload["target"], payload["body"]
    )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class JobStore:
    """Job records in DynamoDB (partition key ``jobId``) and large results in S3."""

    def __init__(
        self,
        table_name: str | None = None,
        bucket: str | None = None,
        *,
        dynamodb=None,
        s3=None,
        inline_limit: int | None = None,
    ):
        self.table = table_name or os.environ["JOBS_TABLE_NAME"]
        self.bucket = bucket or os.environ.get("RESULTS_BUCKET_NAME")
        self.inline_limit = inline_limit or int(
            os.environ.get("RESULT_INLINE_MAX_BYTES", DEFAULT_INLINE_RESULT_BYTES)
        )
        self._dynamodb = dynamodb
        self._s3 = s3
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self._serialize = TypeSerializer().serialize
        self._deserialize = TypeDeserializer().deserialize

    @property
    def dynamodb(self):
        if self._dynamodb is None:
            import boto3

            self._dynamodb = boto3.client("dynamodb")
        return self._dynamodb

    @property
    def s3(self):
        if self._s3 is None:
            import boto3
            from botocore.config import Config

            self._s3 = boto3.client("s3", config=Config(signature_version="s3v4"))
        return self._s3

    def _key(self, job_id: str) -> dict:
        return {"jobId": {"S": job_id}}

    def _values(self, values: dict[str, Any]) -> dict:
        return {k: self._serialize(v) for k, v in values.items()}

    def create(self, job: JobRequest) -> tuple[dict[str, Any], bool]:
        """Record a queued job; returns (record, created). An existing job id returns it unchanged."""
        now = _now()
        item = {
            "jobId": job.job_id,
            "status": QUEUED,
            "target": job.target,
            "attempts": 0,
            "createdAt": now,
            "updatedAt": now,
            "expiresAt": int(time.time()) + RETENTION_SECONDS,
            "requestHash": _hash(job.message()),
        }
        from botocore.exceptions import ClientError

        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=self._values(item),
                ConditionExpression="attribute_not_exists(jobId)",
            )
            return item, True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        existing = self.get(job.job_id)
        if existing is None:  # deleted between the two calls: try once more
            return self.create(job)
        if existing.get("requestHash") not in (None, item["requestHash"]):
            raise GatewayError(
                ErrorCode.CONFLICT, f"job {job.job_id!r} already exists with a different target or body"
            )
        return existing, False

    def delete_if_queued(self, job_id: str) -> None:
        """Undo :meth:`create` when the message could not be enqueued, so a retry can start clean."""
        from botocore.exceptions import ClientError

        try:
            self.dynamodb.delete_item(
                TableName=self.table,
                Key=self._key(job_id),
                ConditionExpression="#s = :queued",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=self._values({":queued": QUEUED}),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def get(self, job_id: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=self._key(job_id), ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            return None
        return {k: _plain(self._deserialize(v)) for k, v in item.items()}

    def _update(
        self,
        job_id: str,
        values: dict[str, Any],
        allowed_from: tuple[str, ...],
        *,
        increment_attempts: bool = False,
        create: bool = False,
        also_from_dead_letter: bool = False,
        remove: tuple[str, ...] = (),
    ) -> bool:
        """Set ``values`` (and remove ``remove``) if the job's status is in ``allowed_from``.

        ``create``: also when the job does not exist yet. ``also_from_dead_letter``: also when it
        failed by running out of deliveries (a DLQ redrive starts it again). False when refused.
        """
        from botocore.exceptions import ClientError

        values = dict(values, updatedAt=_now())
        names = {f"#{k}": k for k in (*values, *remove)}
        names["#status"] = "status"
        expression_values = {f":{k}": v for k, v in values.items()}
        expression_values.update({f":from{i}": s for i, s in enumerate(allowed_from)})
        sets = [f"#{k} = :{k}" for k in values]
        if increment_attempts:
            names["#attempts"] = "attempts"
            expression_values[":one"] = 1
            expression_values[":zero"] = 0
            sets.append("#attempts = if_not_exists(#attempts, :zero) + :one")
        if create:
            names["#createdAt"] = "createdAt"
            names["#expiresAt"] = "expiresAt"
            expression_values[":createdAt"] = values["updatedAt"]
            expression_values[":expiresAt"] = int(time.time()) + RETENTION_SECONDS
            sets.append("#createdAt = if_not_exists(#createdAt, :createdAt)")
            sets.append("#expiresAt = if_not_exists(#expiresAt, :expiresAt)")
        allowed = [f"#status = :from{i}" for i in range(len(allowed_from))]
        if also_from_dead_letter:
            names["#deadLettered"] = "deadLettered"
            expression_values[":failed"] = FAILED
            expression_values[":true"] = True
            allowed.append("(#status = :failed AND #deadLettered = :true)")
        if create:
            condition = " OR ".join(["attribute_not_exists(jobId)", *allowed])
        else:
            condition = f"attribute_exists(jobId) AND ({' OR '.join(allowed)})"
        expression = (
            "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(f"#{k}" for k in remove) if remove else "")
        )
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=self._key(job_id),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=self._values(expression_values),
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def start_attempt(self, job: JobRequest) -> bool:
        """Mark the job running and count the attempt; False once it has finished for good.

        A job failed by the DLQ path can start again (a redrive of its message), clean of that failure.
        """
        return self._update(
            job.job_id,
            {"status": RUNNING, "target": job.target, "startedAt": _now()},
            (QUEUED, RUNNING),
            increment_attempts=True,
            create=True,
            also_from_dead_letter=True,
            remove=("error", "finishedAt", "deadLettered"),
        )

    def note_transient_error(self, job_id: str, error: GatewayError) -> None:
        """Record why the latest attempt failed; the job stays running and will be retried."""
        self._update(job_id, {"lastError": {"code": str(error.code), "message": error.message}}, (RUNNING,))

    def put_result(self, job_id: str, result: bytes) -> str:
        """Store a large result in S3 (encrypted); returns its key."""
        key = f"results/{job_id}.json"
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=result,
            ContentType="application/json",
            ServerSideEncryption="aws:kms" if os.environ.get("RESULTS_KMS") else "AES256",
        )
        return key

    def succeed(
        self,
        job_id: str,
        usage: dict[str, int | None],
        *,
        result: str | None = None,
        result_key: str | None = None,
    ) -> bool:
        """Finish the job with its result inline (``result``) or in S3 (``result_key``)."""
        values: dict[str, Any] = {
            "status": SUCCEEDED,
            "finishedAt": _now(),
            "usage": {k: v for k, v in usage.items() if v is not None},
        }
        if result_key is not None:
            values["resultKey"] = result_key
        else:
            values["result"] = result
        return self._update(job_id, values, (QUEUED, RUNNING), remove=("lastError",))

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
        values: dict[str, Any] = {
            "status": FAILED,
            "finishedAt": _now(),
            "error": {"code": str(error.code), "message": error.message},
        }
        if target is not None:
            values["target"] = target
        if dead_lettered:
            values["deadLettered"] = True
        return self._update(job_id, values, () if only_if_new else (QUEUED, RUNNING), create=True)

    def public_view(self, record: dict[str, Any]) -> dict[str, Any]:
        """SPEC's GET /v1/jobs/{jobId} document."""
        view = {
            k: record.get(k)
            for k in (
                "jobId",
                "status",
                "target",
                "attempts",
                "usage",
                "error",
                "createdAt",
                "updatedAt",
                "startedAt",
                "finishedAt",
            )
        }
        view = {k: v for k, v in view.items() if v is not None}
        if record["status"] == RUNNING and record.get("lastError"):
            view["lastError"] = record["lastError"]
        if "result" in record:
            try:
                view["result"] = json.loads(record["result"])
            except ValueError:
                view["result"] = record["result"]
        elif "resultKey" in record:
            view["resultUrl"] = self.s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": record["resultKey"]},
                ExpiresIn=RESULT_URL_SECONDS,
            )
        return view


@functools.cache
def default_store() -> JobStore:
    """The container's job store, from ``JOBS_TABLE_NAME`` / ``RESULTS_BUCKET_NAME``."""
    return JobStore()


@functools.cache
def sqs_client():
    """The container's SQS client (enqueueing jobs, backing off retries)."""
    import boto3

    return boto3.client("sqs")


def _hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the API speaks plain JSON numbers."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
