"""The job document callers read from ``GET /v1/jobs/{jobId}``."""

from __future__ import annotations

import json
from typing import Any

from bedrock_gateway.core.jobs.contract import DEAD_LETTERED, RUNNING

_PUBLIC_FIELDS = (
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


def job_document(record: dict[str, Any], job_id: str, result_path: str) -> dict[str, Any]:
    """The public view of a job record: its state, and its result inline or as ``resultUrl``, the
    gateway path that serves it (``GET /v1/jobs/{jobId}/result``, authorized like the job)."""
    view = {"jobId": job_id, **{k: record[k] for k in _PUBLIC_FIELDS if record.get(k) is not None}}
    dead_lettered = (record.get("error") or {}).get("code") == DEAD_LETTERED
    if (record["status"] == RUNNING or dead_lettered) and record.get("lastError"):
        view["lastError"] = record["lastError"]  # why it is being retried, or why it ran out of deliveries
    if "result" in record:
        try:
            view["result"] = json.loads(record["result"])
        except ValueError:
            view["result"] = record["result"]
    elif "resultKey" in record:
        view["resultUrl"] = result_path
    return view
