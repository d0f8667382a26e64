"""``usage``: tokens, invocations and cost by tenant and target, from the gateway's usage log lines.

Every invocation (sync, stream, job) logs one ``usage`` line: tenant, target, door, tokens, latency
and, where the target has a price, its cost. This sums them: from the local stack's log files
(``make run`` writes ``.local/logs``), or with CloudWatch Logs Insights over a deployed stack's
function log groups (``--stack NAME``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from .aws import session as aws_session
from .output import CliError, table

LOCAL_LOGS = Path(".local/logs")
_INSIGHTS_QUERY = """fields @message
| filter message = "usage"
| stats count(*) as invocations, sum(usage.input_tokens) as input_tokens,
        sum(usage.output_tokens) as output_tokens, sum(usage.cost_usd) as cost_usd
  by usage.tenant as tenant, usage.target as target"""


def add_parser(groups: Any, common: argparse.ArgumentParser) -> None:
    usage = groups.add_parser(
        "usage",
        parents=[common],
        help="tokens and cost by tenant and target",
        description=__doc__.split("\n\n")[0].replace("``", ""),
        epilog="examples:\n  usage                                   # the local stack's logs\n"
        "  usage --stack BedrockGateway-prod --since 7d\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    usage.add_argument(
        "--logs", type=Path, default=LOCAL_LOGS, help=f"local log folder (default {LOCAL_LOGS})"
    )
    usage.add_argument("--stack", help="a deployed stack: query its log groups with CloudWatch Logs Insights")
    usage.add_argument(
        "--since",
        help="how far back (e.g. 90m, 24h, 7d; default: 24h with --stack, every local line without)",
    )
    usage.set_defaults(run=_usage)


def summarize(lines: Iterable[str], since: float | None = None) -> list[dict[str, Any]]:
    """Usage log lines (Powertools JSON) summed by tenant and target, largest token count first; with
    ``since`` (epoch seconds), only the lines logged from then on."""
    totals: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"invocations": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": None}
    )
    for line in lines:
        if '"usage"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        usage = record.get("usage") if record.get("message") == "usage" else None
        if not isinstance(usage, dict):
            continue
        if since is not None and _logged_at(record) < since:
            continue
        total = totals[(str(usage.get("tenant")), str(usage.get("target")))]
        total["invocations"] += 1
        total["input_tokens"] += usage.get("input_tokens") or 0
        total["output_tokens"] += usage.get("output_tokens") or 0
        if usage.get("cost_usd") is not None:
            total["cost_usd"] = (total["cost_usd"] or 0.0) + usage["cost_usd"]
    rows = [{"tenant": tenant, "target": target, **total} for (tenant, target), total in totals.items()]
    return sorted(rows, key=lambda r: (-(r["input_tokens"] + r["output_tokens"]), r["tenant"], r["target"]))


def _logged_at(record: dict[str, Any]) -> float:
    """When Powertools logged ``record`` (its ``timestamp``, e.g. ``2026-11-30 12:45:25,013+0000``);
    0 when it has none that reads."""
    try:
        return datetime.strptime(str(record.get("timestamp")), "%Y-%m-%d %H:%M:%S,%f%z").timestamp()
    except ValueError:
        return 0.0


def _usage(args: argparse.Namespace) -> int:
    if args.stack:
        rows = _from_stack(args)
    else:
        rows = _from_files(args.logs, None if args.since is None else time.time() - _seconds(args.since))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0

    cells = [
        [
            r["tenant"],
            r["target"],
            str(r["invocations"]),
            str(r["input_tokens"]),
            str(r["output_tokens"]),
            "-" if r["cost_usd"] is None else f"{r['cost_usd']:.4f}",
        ]
        for r in rows
    ]
    headers = ["TENANT", "TARGET", "INVOCATIONS", "INPUT TOKENS", "OUTPUT TOKENS", "COST (USD)"]
    print("\n".join(table(headers, cells)) if cells else "(no usage recorded)")
    return 0


def _from_files(folder: Path, since: float | None = None) -> list[dict[str, Any]]:

    files = sorted(folder.glob("*.log"))
    if not files:
        raise CliError(f"no log files in {folder}: run the local stack (make run), or pass --stack")

    def lines() -> Iterable[str]:
        for path in files:
            with path.open(encoding="utf-8", errors="replace") as handle:
                yield from handle

    return summarize(lines(), since)


def _seconds(text: str) -> int:

    units = {"m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise CliError(f"--since {text!r}: a number and m, h or d (e.g. 24h)")
    return int(text[:-1]) * units[text[-1]]


def _from_stack(args: argparse.Namespace) -> list[dict[str, Any]]:
    session = aws_session(args.region)
    resources = session.client("cloudformation").describe_stack_resources(StackName=args.stack)[
        "StackResources"
    ]
    groups = [
        r["PhysicalResourceId"]
        for r in resources
        if r["ResourceType"] == "AWS::Logs::LogGroup" and "Handler" in r["LogicalResourceId"]
    ]
    logs = session.client("logs")
    now = int(time.time())
    query = logs.start_query(
        logGroupNames=groups,
        startTime=now - _seconds(args.since or "24h"),
        endTime=now,
        queryString=_INSIGHTS_QUERY,
    )["queryId"]
    while (result := logs.get_query_results(queryId=query))["status"] in ("Scheduled", "Running"):
        time.sleep(1)
    rows = []
    for fields in result.get("results", []):
        row = {f["field"]: f["value"] for f in fields}
        cost = row.get("cost_usd")
        rows.append(
            {
                "tenant": row.get("tenant"),
                "target": row.get("target"),
                "invocations": int(float(row.get("invocations", 0))),
                "input_tokens": int(float(row.get("input_tokens") or 0)),
                "output_tokens": int(float(row.get("output_tokens") or 0)),
                "cost_usd": float(cost) if cost not in (None, "") else None,
            }
        )
    return sorted(rows, key=lambda r: (-(r["input_tokens"] + r["output_tokens"]), r["tenant"], r["target"]))
