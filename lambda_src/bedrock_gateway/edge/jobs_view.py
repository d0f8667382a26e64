"""The job document callers read from ``GET /v1/jobs/{jobId}``."""

from __future__ import annotations

import json
from typing import Any

from bedrock_gateway.core.jobs.contract import DEAD_LETTERED, RUNNING
from bedrock_gateway.core.jobs.results import ResultStorage

RESULT_URL_SECONDS = 3600
_PUBLIC_FIELDS = (
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


def job_document(record: dict[str, Any], results: ResultStorage) -> dict[str, Any]:
    """The public view of a job record: its state, and its result inline or as a presigned ``resultUrl``."""
    view = {k: record[k] for k in _PUBLIC_FIELDS if record.get(k) is not None}
    dead_lettered = (record.get("error") or {}).get("code") == DEAD_LETTERED
    if (record["status"] == RUNNING or dead_lettered) and record.get("lastError"):
        view["lastError"] = record["lastError"]  # why it is being retried, or why it ran out of deliveries
    if "result" in record:
        try:
            view["result"] = json.loads(record["result"])
        except ValueError:
            view["result"] = record["result"]
    elif "resultKey" in record:
        view["resultUrl"] = results.download_url(record["resultKey"], RESULT_URL_SECONDS)
    return view
