"""The pure half of ``make bench-peers``: rows, the ``ahead`` rule, ``peers.json`` and the Markdown table.

Every row is lower-is-better (added latency, CPU, memory). A row's values are dicts of statistics
(``{"p50": .., "p99": ..}`` for latency, ``{"value": ..}`` otherwise); ``ahead`` is true only when our
value is strictly lower than every peer route's on every statistic the row reports.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bench.common import percentile

OURS = "ours"
# The peer routes, in column order; labels take the LiteLLM version.
PEER_ROUTES = {
    "litellm_passthrough": "LiteLLM {version} proxy, Bedrock pass-through",
    "litellm_chat": "LiteLLM {version} chat/completions",
}
LATENCY_UNIT = "ms added over direct boto3 (p50 / p99)"


def added_latency(route_ms: list[float], direct_ms: list[float]) -> dict[str, float]:
    """p50 and p99 of a route minus the same percentiles of direct boto3, in ms, rounded to 0.1."""
    return {
        f"p{q}": round(percentile(route_ms, q) - percentile(direct_ms, q), 1)
        for q in (50, 99)
        if route_ms and direct_ms
    }


def is_ahead(ours: dict[str, float], peers: dict[str, dict[str, float]]) -> bool:
    """True when ``ours`` is strictly lower than every peer on every statistic (lower is better)."""
    if not ours or not peers:
        return False
    for peer in peers.values():
        for stat, value in ours.items():
            if stat not in peer or not value < peer[stat]:
                return False
    return True


def row(
    name: str,
    title: str,
    unit: str,
    ours: dict[str, float],
    peers: dict[str, dict[str, float]],
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``peers.json`` entry: our value, each peer route's value, the unit and ``ahead``."""
    unknown = set(peers) - set(PEER_ROUTES)
    if unknown:
        raise ValueError(f"unknown peer route(s): {sorted(unknown)}")
    return {
        "name": name,
        "title": title,
        "unit": unit,
        OURS: ours,
        "peers": peers,
        "ahead": is_ahead(ours, peers),
        "detail": detail or {},
    }


def document(
    rows: list[dict[str, Any]],
    *,
    machine: dict[str, Any],
    litellm_version: str,
    settings: dict[str, Any],
    started: float | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole ``peers.json``."""
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine,
        "duration_s": round(time.monotonic() - started, 1) if started is not None else None,
        "settings": settings,
        "peers": {
            "litellm": {
                "version": litellm_version,
                "routes": {
                    route: label.format(version=litellm_version) for route, label in PEER_ROUTES.items()
                },
            }
        },
        "rows": rows,
        "all_ahead": all(r["ahead"] for r in rows),
        **(extra or {}),
    }


def write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)


def cell(values: dict[str, float] | None, unit: str) -> str:
    """``+4.0 / +9.6`` for added latency, ``36.7 ms`` or ``68 MiB`` for a single value; ``n/a`` if missing."""
    if not values:
        return "n/a"
    if "p50" in values:
        return " / ".join(f"{values[k]:+.1f}" for k in ("p50", "p99") if k in values)
    value = values["value"]
    suffix = unit.split()[0]
    return f"{value:.0f} {suffix}" if suffix == "MiB" else f"{value:.1f} {suffix}"


def markdown_table(doc: dict[str, Any]) -> str:
    """The comparison as a Markdown table: one line per row, our column first, then each peer route."""
    version = doc["peers"]["litellm"]["version"]
    header = ["", "this gateway", *(label.format(version=version) for label in PEER_ROUTES.values()), "ahead"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in doc["rows"]:
        unit = r["unit"]
        title = f"{r['title']} ({'ms added, p50 / p99' if unit == LATENCY_UNIT else unit.split()[0]})"
        cells = [title, cell(r[OURS], unit), *(cell(r["peers"].get(route), unit) for route in PEER_ROUTES)]
        cells.append("yes" if r["ahead"] else "**no**")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(doc: dict[str, Any], notes: list[str] | None = None) -> str:
    """``peers.md``: when and where, the table, and the notes."""
    m = doc["machine"]
    head = (
        f"Peers, {doc['date']} on {m.get('nproc')} x {m.get('machine')} ({m.get('cpu') or 'unknown CPU'}), "
        f"Python {m.get('python')}; LiteLLM {doc['peers']['litellm']['version']}"
    )
    if m.get("loadavg_at_start"):
        head += f"; load average at start {' / '.join(str(x) for x in m['loadavg_at_start'])}"
    body = [head, "", markdown_table(doc)]
    if notes:
        body += ["", *(f"- {note}" for note in notes)]
    return "\n".join(body) + "\n"
