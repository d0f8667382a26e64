"""Latency and fault settings per model, and the call counters. Thread-safe.

A setting's key is a URL ``modelId`` as sent, a resolved foundation model ID, or ``"*"``. For a call,
the settings of ``"*"``, then of the resolved model, then of the URL model ID are layered (later wins
field by field).
"""

from __future__ import annotations

import copy
import random
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from .errors import canonical_error

_INT_FIELDS = ("ttft_ms", "chunk_delay_ms", "output_tokens", "tokens_per_chunk", "throttle_every", "seed")
#: Probabilities: throttled, or a whole answer produced (and billed) but broken on the wire.
_RATE_FIELDS = ("throttle_rate", "reset_rate", "truncate_rate")
FIELDS = (*_INT_FIELDS, *_RATE_FIELDS, "error")
#: How each broken answer is counted under ``errors``.
BROKEN_ERRORS = {"reset": "ConnectionReset", "truncated": "TruncatedResponse"}
DEFAULT_TOKENS_PER_CHUNK = 1


def _validate(fields: dict) -> dict:
    """Check and normalise a config update; ``None`` values remove a field."""
    out: dict = {}
    for key, value in fields.items():
        if key not in FIELDS:
            raise ValueError(f"unknown setting {key!r}; known: {', '.join(FIELDS)}")
        if value is None:
            out[key] = None
        elif key in _INT_FIELDS:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
            if key in ("tokens_per_chunk", "throttle_every") and value < 1:
                raise ValueError(f"{key} must be >= 1")
            out[key] = value if key.endswith("_ms") else int(value)
        elif key in _RATE_FIELDS:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{key} must be a probability between 0 and 1")
            out[key] = float(value)
        elif key == "error":
            out[key] = _validate_error(value)
    return out


def _validate_error(value) -> dict:
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, dict) or "type" not in value:
        raise ValueError('error must be {"type": <modeled error name>, "when": "before"|"after_chunks", ...}')
    unknown = set(value) - {"type", "when", "after_chunks", "rate", "message"}
    if unknown:
        raise ValueError(f"unknown error setting(s): {', '.join(sorted(unknown))}")
    err = {"type": canonical_error(value["type"]), "when": value.get("when", "before")}
    if err["when"] not in ("before", "after_chunks"):
        raise ValueError('error.when must be "before" or "after_chunks"')
    after = value.get("after_chunks", 0)
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise ValueError("error.after_chunks must be a non-negative integer")
    err["after_chunks"] = after
    if value.get("rate") is not None:
        rate = value["rate"]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError("error.rate must be a probability between 0 and 1")
        err["rate"] = float(rate)
    if value.get("message"):
        err["message"] = str(value["message"])
    return err


@dataclass
class _Rule:
    settings: dict = field(default_factory=dict)
    calls: int = 0
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class Decision:
    """What the fault settings say about one call."""

    ttft_ms: float = 0
    chunk_delay_ms: float = 0
    output_tokens: int | None = None
    tokens_per_chunk: int = DEFAULT_TOKENS_PER_CHUNK
    throttle: bool = False
    error: dict | None = None  # {"type", "when", "after_chunks", "message"?}
    broken: str | None = None  # "reset" or "truncated": the answer is cut off on the wire


def _counter() -> dict:
    return {"calls": 0, "succeeded": 0}


class State:
    """Fault rules and counters shared by the server threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: dict[str, _Rule] = {}
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._totals = _counter()
        self._by_model: dict[str, dict] = defaultdict(_counter)
        self._by_resolved: dict[str, dict] = defaultdict(_counter)
        self._by_body: dict[str, dict] = defaultdict(_counter)
        self._operations: dict[str, int] = defaultdict(int)
        self._errors: dict[str, int] = defaultdict(int)
        self._control: dict[str, int] = defaultdict(int)

    # ---- configuration ----

    def configure(self, model: str = "*", **fields) -> dict:
        """Merge settings into the rule for ``model``; returns that rule's settings."""
        if not isinstance(model, str) or not model:
            raise ValueError("model must be a model ID, ARN, or '*'")
        update = _validate(fields)
        with self._lock:
            rule = self._rules.setdefault(model, _Rule())
            for key, value in update.items():
                if value is None:
                    rule.settings.pop(key, None)
                else:
                    rule.settings[key] = value
            if "seed" in update:
                rule.rng = random.Random(update["seed"])
                rule.calls = 0
            return dict(rule.settings)

    def config(self) -> dict:
        with self._lock:
            return {key: copy.deepcopy(rule.settings) for key, rule in self._rules.items()}

    def reset(self) -> None:
        """Drop every fault/latency setting and zero the counters."""
        with self._lock:
            self._rules.clear()
            self._reset_counters()

    # ---- per call ----

    def decide(self, model_id: str, resolved_id: str) -> Decision:
        """Layer the rules for this call, and draw its throttling/error outcome."""
        with self._lock:
            keys = dict.fromkeys(("*", resolved_id, model_id))  # ordered, without duplicates
            layers = [(k, self._rules[k]) for k in keys if k in self._rules]
            merged: dict = {}
            source: dict[str, _Rule] = {}
            for _, rule in layers:
                for key, value in rule.settings.items():
                    merged[key] = value
                    source[key] = rule
            for rule in {id(r): r for _, r in layers}.values():
                rule.calls += 1
            decision = Decision(
                ttft_ms=merged.get("ttft_ms", 0),
                chunk_delay_ms=merged.get("chunk_delay_ms", 0),
                output_tokens=merged.get("output_tokens"),
                tokens_per_chunk=merged.get("tokens_per_chunk", DEFAULT_TOKENS_PER_CHUNK),
            )
            if "throttle_every" in merged and source["throttle_every"].calls % merged["throttle_every"] == 0:
                decision.throttle = True
            if "throttle_rate" in merged and source["throttle_rate"].rng.random() < merged["throttle_rate"]:
                decision.throttle = True
            err = merged.get("error")
            if err and ("rate" not in err or source["error"].rng.random() < err["rate"]):
                decision.error = dict(err)
            for key, kind in (("reset_rate", "reset"), ("truncate_rate", "truncated")):
                if key in merged and not decision.broken and source[key].rng.random() < merged[key]:
                    decision.broken = kind
            return decision

    def record_call(self, operation: str, model_id: str, body_hash: str) -> None:
        with self._lock:
            self._totals["calls"] += 1
            self._operations[operation] += 1
            self._by_model[model_id]["calls"] += 1
            self._by_body[body_hash]["calls"] += 1

    def record_resolved(self, resolved_id: str) -> None:
        with self._lock:
            self._by_resolved[resolved_id]["calls"] += 1

    def record_success(self, model_id: str, resolved_id: str, body_hash: str) -> None:
        with self._lock:
            self._totals["succeeded"] += 1
            self._by_model[model_id]["succeeded"] += 1
            self._by_resolved[resolved_id]["succeeded"] += 1
            self._by_body[body_hash]["succeeded"] += 1

    def record_broken(self, kind: str, body_hash: str) -> None:
        """An answer produced (and counted as succeeded) but cut off on the wire: ``reset`` or ``truncated``."""
        with self._lock:
            counter = self._by_body[body_hash]
            counter[kind] = counter.get(kind, 0) + 1
            self._errors[BROKEN_ERRORS[kind]] += 1

    def record_error(self, error_type: str) -> None:
        with self._lock:
            self._errors[error_type] += 1

    def record_control(self, operation: str) -> None:
        with self._lock:
            self._control[operation] += 1

    def counters(self) -> dict:
        """A snapshot; its shape is documented in the ``bedrock_emulator`` package docstring."""
        with self._lock:
            return {
                "calls": self._totals["calls"],
                "succeeded": self._totals["succeeded"],
                "operations": dict(self._operations),
                "models": {k: dict(v) for k, v in self._by_model.items()},
                "resolved_models": {k: dict(v) for k, v in self._by_resolved.items()},
                "bodies": {k: dict(v) for k, v in self._by_body.items()},
                "errors": dict(self._errors),
                "control_plane": dict(self._control),
            }
