"""Schemathesis hooks for ``make fuzz`` (loaded through ``SCHEMATHESIS_HOOKS=bench.fuzz_checks``).

Adds the ``spec_error_shape`` check: every response with status >= 400 is the documented JSON error body (docs/api.md)
(``{"error": {"code", "message", "requestId"}}``), with ``Retry-After`` on 429 and 503. Also tallies
every response by status into ``$BENCH_FUZZ_TALLY`` (JSON) when the run ends, for the summary line.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections import Counter

import schemathesis

from bench.fuzz import error_shape_problem

_lock = threading.Lock()
_statuses: Counter[str] = Counter()
_operations: Counter[str] = Counter()
_problems: list[dict] = []


@schemathesis.check
def spec_error_shape(ctx, response, case):
    """Errors are always the documented JSON error body; never a stack trace, never another shape."""
    headers = {name.lower(): values for name, values in (response.headers or {}).items()}
    content_type = ", ".join(headers.get("content-type", []))
    retry_after = ", ".join(headers.get("retry-after", [])) or None
    error_type = ", ".join(headers.get("x-amzn-errortype", [])) or None
    problem = error_shape_problem(
        response.status_code,
        content_type,
        response.content,
        retry_after,
        path=case.path,
        error_type=error_type,
    )
    with _lock:
        _statuses[str(response.status_code)] += 1
        _operations[f"{case.method.upper()} {case.path}"] += 1
        if problem:
            _problems.append(
                {
                    "operation": f"{case.method.upper()} {case.path}",
                    "status": response.status_code,
                    "problem": problem,
                    "body": response.content[:300].decode("utf-8", "replace"),
                }
            )
    if problem:
        raise AssertionError(f"not the documented error shape: {problem}")


def _dump() -> None:
    path = os.environ.get("BENCH_FUZZ_TALLY")
    if not path:
        return
    with _lock:
        data = {
            "statuses": dict(_statuses),
            "operations": dict(_operations),
            "problems": _problems[:50],
            "problem_count": len(_problems),
        }
    with open(path, "w") as f:
        json.dump(data, f, indent=2)


atexit.register(_dump)
