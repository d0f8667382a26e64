"""The container's settings and targets config: read once, on first use, from the environment the
stack sets (see ``infra/components``). Nothing else in the package reads ``os.environ``.

Also the per-door call budgets: how long each door may wait on Bedrock, and how often it retries.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from bedrock_gateway.core.clients import CallBudget
from bedrock_gateway.core.targets import TargetsConfig, load_targets

#: API Gateway gives a REST integration 29 s: one 25 s read leaves time to answer with our own error.
#: The sync door retries fast failures itself, within the function's remaining time.
SYNC_BUDGET = CallBudget(read_timeout=25)
SYNC_ATTEMPTS = 3
#: A stream may wait long between events; it never retries once the first byte went out. Its caller is
#: waiting for a first byte: one retry, then the 429 with Retry-After (sooner than the sync door's).
STREAM_BUDGET = CallBudget(read_timeout=120)
STREAM_OPEN_ATTEMPTS = 2
#: The worker leaves retries to SQS (a throttled call is not retried twice over); a long read is fine.
WORKER_BUDGET = CallBudget(read_timeout=300)
#: DynamoDB, S3 and SQS calls: short, with botocore's standard retries (see :func:`store_budget`).
STORE_BUDGET = CallBudget(read_timeout=10, attempts=3)


@dataclass(frozen=True)
class Settings:
    targets_file: str | None = None
    jobs_table: str | None = None
    results_bucket: str | None = None
    jobs_queue_url: str | None = None
    dead_letter_queue_url: str | None = None  # the DLQ consumer holds the messages it keeps there
    keys_table: str | None = None  # gateway API keys (auth=key): the authorizer's table
    inline_result_bytes: int = 64 * 1024  # larger results go to the results bucket
    max_receive_count: int = 5  # the queue's redrive limit: the last delivery hands a failure to the DLQ
    retry_base_seconds: float = 10  # the worker's first backoff; doubles per delivery
    batch_concurrency: int = 10  # records of one SQS batch processed at once
    store_read_timeout: float = STORE_BUDGET.read_timeout  # shorter only in local fault injection
    #: SQS sender ids (IAM unique ids) allowed to name a job's caller: the jobs API's role.
    trusted_job_senders: frozenset[str] = frozenset()


def _from_environment() -> Settings:
    env = os.environ
    defaults = Settings()
    return Settings(
        targets_file=env.get("TARGETS_FILE"),
        jobs_table=env.get("JOBS_TABLE_NAME"),
        results_bucket=env.get("RESULTS_BUCKET_NAME"),
        jobs_queue_url=env.get("JOBS_QUEUE_URL"),
        dead_letter_queue_url=env.get("JOBS_DLQ_URL"),
        keys_table=env.get("KEYS_TABLE_NAME"),
        inline_result_bytes=int(env.get("RESULT_INLINE_MAX_BYTES", defaults.inline_result_bytes)),
        max_receive_count=int(env.get("MAX_RECEIVE_COUNT", defaults.max_receive_count)),
        retry_base_seconds=float(env.get("RETRY_BASE_SECONDS", defaults.retry_base_seconds)),
        batch_concurrency=int(env.get("WORKER_BATCH_CONCURRENCY", defaults.batch_concurrency)),
        store_read_timeout=float(env.get("STORE_READ_TIMEOUT_SECONDS", defaults.store_read_timeout)),
        trusted_job_senders=frozenset(s for s in env.get("TRUSTED_JOB_SENDERS", "").split(",") if s),
    )


@functools.cache
def current() -> Settings:
    """This container's settings."""
    return _from_environment()


def store_budget() -> CallBudget:
    """The budget of DynamoDB, S3 and SQS calls in this container."""
    read_timeout = current().store_read_timeout
    if read_timeout == STORE_BUDGET.read_timeout:
        return STORE_BUDGET
    return CallBudget(read_timeout=read_timeout, connect_timeout=min(2, read_timeout), attempts=3)


@functools.cache
def targets() -> TargetsConfig:
    """This container's targets config (a bad file raises ``ConfigError`` with the reason)."""
    return load_targets(current().targets_file)


def reset() -> None:
    """Read the environment and the targets file again (tests that change them use this)."""
    current.cache_clear()
    targets.cache_clear()
