"""A jobs-queue message as Lambda delivers it (an SQS event record): which job, whose, and its key.

The worker and the DLQ consumer read messages the same way, so both find a job, or the record of a
malformed message, under the same key: the job's id inside its sender's namespace.
"""

from __future__ import annotations

from typing import Any

from bedrock_gateway.core import callers
from bedrock_gateway.core.errors import GatewayError
from bedrock_gateway.core.jobs.contract import JobRequest, job_key, message_job_id, parse_job
from bedrock_gateway.core.prepare import parse_json_object


class MalformedMessage(Exception):
    """No job can come of the message; ``key`` is where to record that (never over an existing job)."""

    def __init__(self, key: str, job_id: str, error: GatewayError):
        super().__init__(error.message)
        self.key = key
        self.job_id = job_id
        self.error = error


def read_job_message(
    record: dict[str, Any], trusted_senders: frozenset[str]
) -> tuple[JobRequest, callers.Caller]:
    """The job ``record`` carries and the caller it belongs to, or :class:`MalformedMessage`.

    The caller is the ``caller`` message attribute when a trusted sender (the jobs API) set it, else
    the sender itself (:func:`~bedrock_gateway.core.callers.from_sqs_message`).
    """
    message_id = record["messageId"]
    sender_id = (record.get("attributes") or {}).get("SenderId")
    job_id, scope = message_id, _sender_scope(sender_id)
    try:
        payload = parse_json_object(record["body"], "SQS message body")
        job_id = message_job_id(payload, message_id)
        caller = callers.from_sqs_message(sender_id, _caller_attribute(record), trusted_senders)
        scope = caller.scope
        return parse_job(payload, default_job_id=message_id, scope=scope), caller
    except GatewayError as exc:
        raise MalformedMessage(job_key(scope, job_id), job_id, exc) from None


def sent_by_jobs_api(record: dict[str, Any]) -> bool:
    """Whether the gateway's jobs API sent ``record`` (it names the ``caller``, and wrote the job's
    record before sending it); for a message :func:`read_job_message` read."""
    return _caller_attribute(record) is not None


def _sender_scope(sender_id: str | None) -> str:
    """The namespace of whoever sent the message, whatever its attributes say (for malformed messages)."""
    try:
        return callers.from_sqs_message(sender_id, None, frozenset()).scope
    except GatewayError:
        return callers.ANONYMOUS.scope


def _caller_attribute(record: dict[str, Any]) -> str | None:
    attribute = (record.get("messageAttributes") or {}).get("caller") or {}
    return attribute.get("stringValue")
