"""Deployment settings from CDK context (``cdk synth -c key=value`` or ``cdk.json``), validated.

| context key          | default             | meaning                                                   |
| -------------------- | ------------------- | --------------------------------------------------------- |
| stage                | dev                 | environment: stack BedrockGateway-<stage>, API stage name |
| auth                 | iam                 | iam (SigV4), key (gateway keys: Bearer, Lambda authorizer,|
|                      |                     | usage plan), apiKey (API Gateway key) or none; the /model |
|                      |                     | routes take gateway keys in every mode                    |
| keyRateLimit         | 10                  | gateway keys' usage plan: requests per second per key     |
| keyBurstLimit        | 20                  | gateway keys' usage plan: burst per key                   |
| keyQuotaPerDay       | unset               | gateway keys' usage plan: requests per day per key        |
|                      |                     | (no such plan with auth=apiKey)                           |
| targetsFile          | see below           | the targets config: shipped, and the source of IAM        |
| workerMaxConcurrency | 5                   | SQS event source maximum concurrency (Bedrock quotas)     |
| maxReceiveCount      | 5                   | deliveries before a job message moves to the DLQ          |
| apiRateLimit         | 50                  | stage throttling: steady requests per second              |
| apiBurstLimit        | 100                 | stage throttling: burst                                   |
| logRetentionDays     | 30                  | CloudWatch Logs retention of every log group              |
| alarmEmail           | unset               | subscribe this address to the alarm topic (synth warns    |
|                      |                     | when unset: the alarms would notify nobody)               |
| kmsKey               | unset               | customer managed KMS key for the log groups and queues:   |
|                      |                     | unset (AWS managed encryption), "create" (a new key in    |
|                      |                     | the stack) or the ARN of an existing key                  |
| snapStart            | false               | Lambda SnapStart on every function (README, Deploy: what  |
|                      |                     | it costs and when it pays)                                |
| skipAssetDeps        | false               | asset without runtime dependencies (tests only)           |

``targetsFile`` defaults to ``$TARGETS_FILE``, else ``config/targets.toml`` (relative to the project).
A context name one slip from one of these (``keyRatelimit``, ``stages``: another case, or one letter
added, dropped or changed; two for names of ten letters or more) is refused as a likely typo; another
name of no meaning here gets a synth warning (CDK's own names, with ``:``, ``@`` or ``/``, pass).

A bad value, or a bad targets file, raises before any construct is built, with a message that
names the key (or the target) and the value.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from bedrock_gateway.core.targets import TargetsConfig, load_targets

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TARGETS_FILE = "config/targets.toml"
AUTH_MODES = ("iam", "key", "apiKey", "none")
PRODUCTION_STAGES = ("prod", "production")
_STAGE = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: A key ARN, not an alias: CloudWatch Logs only accepts key ARNs.
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
CREATE_KMS_KEY = "create"
#: Every context name the settings read (the table above).
CONTEXT_OPTIONS = (
    "stage",
    "auth",
    "keyRateLimit",
    "keyBurstLimit",
    "keyQuotaPerDay",
    "targetsFile",
    "workerMaxConcurrency",
    "maxReceiveCount",
    "apiRateLimit",
    "apiBurstLimit",
    "logRetentionDays",
    "alarmEmail",
    "kmsKey",
    "snapStart",
    "skipAssetDeps",
)
_KEY_PLAN_OPTIONS = ("keyRateLimit", "keyBurstLimit", "keyQuotaPerDay")
#: Context names the CDK CLI itself writes without a ':' or '@' (cdk.context.json after `cdk acknowledge`
#: and `cdk cli-telemetry`).
_CDK_PLAIN_NAMES = ("acknowledged-issue-numbers", "cli-telemetry")
_RETENTION_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


class SettingsError(ValueError):
    """A context value is invalid; the message names the key and the value."""


@dataclass(frozen=True)
class GatewaySettings:
    """Everything the stack needs to know about one deployment."""

    stage: str
    auth: str
    targets_file: Path
    targets: TargetsConfig
    worker_max_concurrency: int
    max_receive_count: int
    api_rate_limit: int
    api_burst_limit: int
    log_retention_days: int
    alarm_email: str | None
    skip_asset_deps: bool
    #: None (AWS managed encryption), CREATE_KMS_KEY, or an existing key's ARN.
    kms_key: str | None = None
    #: The usage plan every gateway key joins (per key: rate, burst, optional daily quota).
    key_rate_limit: int = 10
    key_burst_limit: int = 20
    key_quota_per_day: int | None = None
    #: Lambda SnapStart on published versions (every function is invoked through its "live" alias).
    snap_start: bool = False

    @property
    def is_production(self) -> bool:
        return self.stage in PRODUCTION_STAGES

    @property
    def removal_policy(self) -> RemovalPolicy:
        """Production keeps its data when the stack goes; other stages clean up after themselves."""
        return RemovalPolicy.RETAIN if self.is_production else RemovalPolicy.DESTROY

    @property
    def log_retention(self) -> logs.RetentionDays:
        return _RETENTION_DAYS[self.log_retention_days]

    @classmethod
    def from_context(cls, get: Any) -> GatewaySettings:
        """Read settings through ``get(key) -> value | None`` (e.g. ``app.node.try_get_context``)."""
        stage = _text(get, "stage", "dev")
        if not _STAGE.match(stage):
            raise SettingsError(
                f"context stage={stage!r}: use lowercase letters, digits and '-' (max 24, letter first)"
            )
        auth = _text(get, "auth", "iam")
        if auth not in AUTH_MODES:
            raise SettingsError(f"context auth={auth!r}: must be one of {', '.join(AUTH_MODES)}")
        if auth == "apiKey" and (
            ignored := [name for name in _KEY_PLAN_OPTIONS if get(name) not in (None, "")]
        ):
            raise SettingsError(
                f"context {', '.join(ignored)}: only shapes the gateway keys' usage plan, which auth=apiKey "
                "does not have (its API keys share the stage's throttling: apiRateLimit, apiBurstLimit); "
                "drop it, or use auth=key"
            )
        targets_file = resolve_targets_file(get("targetsFile"))
        alarm_email = get("alarmEmail") or None
        if alarm_email is not None and not _EMAIL.match(str(alarm_email)):
            raise SettingsError(f"context alarmEmail={alarm_email!r} is not an email address")
        retention = _integer(get, "logRetentionDays", 30, 1, 3653)
        if retention not in _RETENTION_DAYS:
            raise SettingsError(
                f"context logRetentionDays={retention}: CloudWatch Logs accepts {sorted(_RETENTION_DAYS)}"
            )
        burst = _integer(get, "apiBurstLimit", 100, 1, 5000)
        rate = _integer(get, "apiRateLimit", 50, 1, 10000)
        return cls(
            stage=stage,
            auth=auth,
            targets_file=targets_file,
            # Raises ConfigError naming the target and the value: a bad config never synthesizes.
            targets=load_targets(targets_file),
            # SQS event sources accept a maximum concurrency from 2 to 1000.
            worker_max_concurrency=_integer(get, "workerMaxConcurrency", 5, 2, 1000),
            max_receive_count=_integer(get, "maxReceiveCount", 5, 1, 1000),
            api_rate_limit=rate,
            api_burst_limit=burst,
            log_retention_days=retention,
            alarm_email=str(alarm_email) if alarm_email else None,
            skip_asset_deps=_flag(get, "skipAssetDeps"),
            kms_key=_kms_key(get),
            key_rate_limit=_integer(get, "keyRateLimit", 10, 1, 10000),
            key_burst_limit=_integer(get, "keyBurstLimit", 20, 1, 5000),
            key_quota_per_day=_integer(get, "keyQuotaPerDay", 0, 0, 1_000_000_000) or None,
            snap_start=_flag(get, "snapStart"),
        )


def unknown_context_names(names: Iterable[str]) -> list[str]:
    """Context names that mean nothing here, for a synth warning (naming the likeliest option).
    Raises :class:`SettingsError` for a name one slip from an option's (a typo would otherwise deploy
    the default silently); a name further off may be another tool's (``~/.cdk.json`` reaches every app)."""
    unknown = []
    for name in names:
        if name in CONTEXT_OPTIONS or name in _CDK_PLAIN_NAMES or any(c in name for c in ":@/"):
            continue
        for option in CONTEXT_OPTIONS:
            slips = _edits(name.casefold(), option.casefold())
            if slips <= (2 if len(option) >= 10 else 1):
                raise SettingsError(f"context {name}: not an option; did you mean {option}?")
        close = difflib.get_close_matches(name, CONTEXT_OPTIONS, n=1, cutoff=0.6)
        unknown.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return unknown


def _edits(a: str, b: str) -> int:
    """Levenshtein distance: the fewest letters added, dropped or changed to turn ``a`` into ``b``."""
    previous = list(range(len(b) + 1))
    for i, left in enumerate(a, 1):
        current = [i]
        for j, right in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (left != right)))
        previous = current
    return previous[-1]


def resolve_targets_file(value: str | None) -> Path:
    """Context ``targetsFile``, else ``$TARGETS_FILE``, else the default; relative to the project root."""
    raw = value or os.environ.get("TARGETS_FILE") or DEFAULT_TARGETS_FILE
    path = Path(raw).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def _text(get: Any, key: str, default: str) -> str:
    value = get(key)
    return default if value is None or value == "" else str(value)


def _integer(get: Any, key: str, default: int, low: int, high: int) -> int:
    value = get(key)
    if value is None or value == "":
        return default
    try:
        number = int(str(value), 10)
    except ValueError:
        raise SettingsError(f"context {key}={value!r} is not a whole number") from None
    if not low <= number <= high:
        raise SettingsError(f"context {key}={number} must be between {low} and {high}")
    return number


def _kms_key(get: Any) -> str | None:
    value = get("kmsKey")
    if value is None or value == "":
        return None
    if value == CREATE_KMS_KEY or _KMS_KEY_ARN.match(str(value)):
        return str(value)
    raise SettingsError(
        f"context kmsKey={value!r}: use {CREATE_KMS_KEY!r} or a key ARN (arn:aws:kms:<region>:<account>:key/<id>)"
    )


def _flag(get: Any, key: str) -> bool:
    value = get(key)
    if isinstance(value, bool):
        return value
    if value is None or str(value).lower() in ("", "false", "0", "no"):
        return False
    if str(value).lower() in ("true", "1", "yes"):
        return True
    raise SettingsError(f"context {key}={value!r} must be true or false")
