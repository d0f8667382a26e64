"""Shared pieces of the bench tools: figures and the results file, statistics, machine facts, children."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / ".bench"
PYTHONPATH = os.pathsep.join(str(REPO / p) for p in ("lambda_src", "local", "."))

_COMPARATORS = {
    "<=": lambda value, target: value <= target,
    ">=": lambda value, target: value >= target,
    "==": lambda value, target: value == target,
}


@dataclass
class Figure:
    """One measured figure with its target; ``met`` is derived, never stored by hand."""

    name: str
    title: str
    value: float
    unit: str
    target: float
    comparator: str = "<="
    baseline: str = ""  # what the value is relative to (same run)
    detail: dict[str, Any] = field(default_factory=dict)
    explanation: str = ""  # why a target is not met (or a caveat), shown with the figure

    def __post_init__(self) -> None:
        if self.comparator not in _COMPARATORS:
            raise ValueError(f"unknown comparator {self.comparator!r}")

    @property
    def met(self) -> bool:
        return bool(_COMPARATORS[self.comparator](self.value, self.target))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["met"] = self.met
        return data


def machine() -> dict[str, Any]:
    """The facts a reader needs to judge the numbers."""
    try:
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    except OSError:
        model = ""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "nproc": os.cpu_count(),
        "machine": platform.machine(),
        "cpu": model,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "loadavg_at_start": load,
    }


def write_results(
    path: Path,
    figures: list[Figure],
    *,
    settings: dict[str, Any] | None = None,
    started: float | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``results.json``: every figure with its value, target and ``met``; returns the document."""
    document = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "settings": settings or {},
        "duration_s": round(time.monotonic() - started, 1) if started is not None else None,
        "all_met": all(f.met for f in figures),
        "figures": {f.name: f.to_dict() for f in figures},
        **(extra or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    return document


def _fmt(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    if unit in ("ms", "MB"):
        return f"{value:.1f} {unit}"
    if float(value).is_integer():
        return f"{int(value)} {unit}".strip()
    return f"{value:.2f} {unit}".strip()


def table(figures: list[Figure]) -> str:
    """A plain-text (and Markdown-compatible) table of the figures."""
    rows = [("figure", "value", "target", "met", "baseline (same run)")]
    for f in figures:
        rows.append(
            (
                f.title,
                _fmt(f.value, f.unit),
                f"{f.comparator} {_fmt(f.target, f.unit)}",
                "yes" if f.met else "NO",
                f.baseline,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# ---- statistics ----


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, float]:
    """Median, p10, p90, min, max and count, in the values' unit, rounded for the results file."""
    return {
        "median": round(median(values), 3),
        "p10": round(percentile(values, 10), 3),
        "p90": round(percentile(values, 90), 3),
        "min": round(min(values), 3) if values else None,
        "max": round(max(values), 3) if values else None,
        "n": len(values),
    }


# ---- the emulator's control endpoint and child processes ----


def configure_emulator(url: str, model: str = "*", **settings) -> None:
    """``POST /_emulator/config`` (works for an emulator in this process or another)."""
    import urllib.request

    request = urllib.request.Request(
        f"{url}/_emulator/config",
        data=json.dumps({"model": model, **settings}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def reset_emulator(url: str) -> None:
    import urllib.request

    request = urllib.request.Request(f"{url}/_emulator/reset", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


# What the Lambda runtime sets that changes how the handlers' libraries start: with LAMBDA_TASK_ROOT
# the X-Ray SDK takes its Lambda path (local sampler, no X-Ray API clients built at import), and with
# a trace header and tracing not disabled, Powertools' Tracer patches botocore and records
# subsegments as under active tracing (sent by UDP to 127.0.0.1:2000, where nothing listens).
LAMBDA_ENV = {
    "LAMBDA_TASK_ROOT": str(REPO / "lambda_src"),
    "AWS_LAMBDA_FUNCTION_NAME": "bedrock-gateway-bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "POWERTOOLS_TRACE_DISABLED": "false",
    # Lambda hands a function its role's temporary credentials (with a session token) and its Region.
    "AWS_SESSION_TOKEN": "bench-session-token",
    "AWS_REGION": "us-east-1",
}


def child_env(extra: dict[str, str] | None = None, *, lambda_like: bool = True) -> dict[str, str]:
    """This process's environment (the local stack's endpoints and tables) plus the import path.

    ``lambda_like`` adds :data:`LAMBDA_ENV`, so handlers start and trace as they do in Lambda with
    active tracing (the deployed functions' setting) rather than as in ``make run``.
    """
    env = dict(os.environ, PYTHONPATH=PYTHONPATH, PYTHONUNBUFFERED="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # cached bytecode, as pip-installed wheels in the asset have
    if lambda_like:
        env.update(LAMBDA_ENV)
    env.update(extra or {})
    return env


def cached_runtime_install(
    name: str, key_material: str, pip_args: list[str], *, timeout: float = 600
) -> Path:
    """``requirements/runtime.txt`` pip-installed ``--target`` ``.bench/<name>-<key>``, once per key."""
    import hashlib
    import shutil
    import tempfile

    lock = REPO / "requirements" / "runtime.txt"
    key = hashlib.sha256(lock.read_bytes() + key_material.encode()).hexdigest()[:16]
    target = BENCH_DIR / f"{name}-{key}"
    if (target / ".complete").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{target.parent.name}-", dir=target.parent))
    # --no-deps: the lock already lists every package, pinned (pip freeze of a fresh venv).
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--target",
        str(tmp),
        *pip_args,
        "-r",
        str(lock),
    ]
    try:
        subprocess.run(command, check=True, timeout=timeout, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(
            f"pip could not install the runtime dependencies ({name}):\n{exc.stderr[-3000:]}"
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    (tmp / ".complete").write_text(" ".join(command))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def runtime_site(timeout: float = 600) -> Path:
    """``requirements/runtime.txt`` installed for this machine's Python, cached under ``.bench/``.

    Handler processes run on this and ``lambda_src`` only (``python -S``: no virtualenv), so they
    import exactly what the Lambda asset holds: the dev tools in the venv (httpx, requests, ...)
    would otherwise change what libraries do at import (the X-Ray SDK patches every HTTP library it
    finds).
    """
    return cached_runtime_install("runtime-site", sys.version, [], timeout=timeout)


def handler_env(lambda_like: bool = True) -> dict[str, str]:
    """The environment of a handler process: :func:`child_env` on the asset's packages only."""
    path = [REPO / "lambda_src", runtime_site(), REPO / "local", REPO]
    return child_env({"PYTHONPATH": os.pathsep.join(str(p) for p in path)}, lambda_like=lambda_like)


def handler_command(mode: str, *args: str) -> list[str]:
    """``python -S -m bench._child MODE ...``: no site-packages, so only :func:`handler_env`'s path."""
    return [sys.executable, "-S", "-m", "bench._child", mode, *args]


def run_child(
    mode: str, *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``python -S -m bench._child MODE ARGS`` in a fresh process; returns the JSON it wrote.

    ``spawned_at`` (wall clock, taken just before the process is created) is passed along so the
    child can report times from the moment its process was asked for, interpreter start included.
    """
    out = BENCH_DIR / "tmp" / f"{mode}-{os.getpid()}-{time.monotonic_ns()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    command = handler_command(mode, "--out", str(out), *args)
    spawned_at = time.time()
    completed = subprocess.run(
        [*command, "--spawned-at", repr(spawned_at)],
        cwd=REPO,
        env=env or handler_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode != 0 or not out.exists():
        raise RuntimeError(
            f"bench child {mode!r} failed ({completed.returncode}):\n{completed.stderr[-4000:]}"
        )
    try:
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


class StackOutput:
    """Send this process's stdout/stderr (the in-process stack's JSON logs, EMF lines, uvicorn
    warnings) to ``path`` while the stack runs; ``say`` still prints to the real terminal."""

    def __init__(self, path: Path):
        self.path = path
        self._saved: tuple = ()
        self._file = None

    def __enter__(self) -> StackOutput:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", buffering=1, encoding="utf-8")
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = sys.stderr = self._file
        return self

    def say(self, text: str) -> None:
        print(text, file=self._saved[0] if self._saved else sys.stdout, flush=True)

    def __exit__(self, *exc) -> None:
        sys.stdout, sys.stderr = self._saved
        self._saved = ()
        self._file.close()


def readline_within(stream, timeout: float) -> str:
    """One line from a child's pipe, or "" if none came within ``timeout`` seconds."""
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else ""
