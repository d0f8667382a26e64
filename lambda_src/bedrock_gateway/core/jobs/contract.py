"""The job contract: what the jobs API enqueues and what any producer may send to the queue.

``{"jobId": "optional", "target": "name", "body": {...}}``; ``jobId`` defaults to the SQS message id.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from bedrock_gateway.core.errors import ErrorCode, GatewayError

#: Job ids: 1-128 of letters, digits, ``_ . : -``, starting with a letter or digit (so never ``.``
#: or ``..``, never a ``/``: safe in URLs, storage keys and logs).
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
TERMINAL = (SUCCEEDED, FAILED)
#: The error code of a job whose message ran out of deliveries and sits in the dead-letter queue.
DEAD_LETTERED = "DeadLettered"

# JSON Schema for POST /v1/jobs and for SQS messages (API Gateway validates POST bodies with it too).
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
    """A validated job: id, target name and the model body; ``scope`` is its caller's namespace."""

    job_id: str
    target: str
    body: dict[str, Any]
    scope: str = ""  # Caller.scope: two callers' jobs of the same id are two jobs

    @property
    def key(self) -> str:
        """Where the job is stored: its id inside its caller's namespace."""
        return job_key(self.scope, self.job_id)

    def canonical_request(self) -> str:
        """The request (target and body) as canonical JSON: the same request gives the same text
        whatever the order of its keys."""
        return json.dumps({"target": self.target, "body": self.body}, sort_keys=True, separators=(",", ":"))

    def message(self) -> str:
        """The SQS message body."""
        return json.dumps(
            {"jobId": self.job_id, "target": self.target, "body": self.body}, separators=(",", ":")
        )


@functools.cache
def _job_validator():
    # fastjsonschema is the engine behind Powertools' validator, whose validate() generates and
    # compiles the validator on every call (milliseconds per job); compiled once here instead.
    import fastjsonschema

    return fastjsonschema.compile(JOB_SCHEMA)


def job_key(scope: str, job_id: str) -> str:
    """The one place a job's storage key (its record's and its result's) is made: its id inside its
    caller's namespace (job ids never hold a ``/``)."""
    return f"{scope}/{job_id}" if scope else job_id


def message_job_id(payload: Any, message_id: str) -> str:
    """The job id a queue message stands for: its own ``jobId`` when usable, else the message id.

    Also for malformed messages, so the worker and the DLQ consumer record them under the same id.
    """
    if isinstance(payload, dict) and isinstance(payload.get("jobId"), str) and JOB_ID.match(payload["jobId"]):
        return payload["jobId"]
    return message_id


def _plain_message(exc: Any) -> str:
    """fastjsonschema's message with the field named as the caller wrote it ("jobId must ...") rather
    than as the validator's variable ("data.jobId must ..."); the document itself is "the request"."""
    name = exc.name or ""
    if not (name.startswith("data") and exc.message.startswith(name)):
        return str(exc.message)
    subject = "the request" if name == "data" else name.removeprefix("data.")
    return subject + exc.message[len(name) :]


def parse_job(payload: dict[str, Any], default_job_id: str | None = None, scope: str = "") -> JobRequest:
    """Validate a job payload against :data:`JOB_SCHEMA`; an InvalidRequest error says what is wrong."""
    import fastjsonschema

    try:
        _job_validator()(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise GatewayError(ErrorCode.INVALID_REQUEST, f"invalid job: {_plain_message(exc)}") from None
    job_id = payload.get("jobId") or default_job_id or str(uuid.uuid4())
    return JobRequest(job_id, payload["target"], payload["body"], scope)
