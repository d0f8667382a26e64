"""Every AWS client the gateway uses (Bedrock, DynamoDB, S3, SQS), built through one locked factory.

The clients are botocore's, from one botocore session: boto3's clients are the same objects (but for
the transfer helpers boto3 adds to S3 clients, ``upload_file`` and the like, which nothing here uses),
and boto3 itself is never imported, which keeps about 20 ms off every cold start. Their user agent
names the gateway (``app/bedrock-gateway``), for CloudTrail.

Sessions are not thread-safe, and the worker fans a batch out to threads: building clients here,
under one lock and from one session, is what makes that safe. Clients of one session also share its
loaded endpoint data. Endpoints follow the SDKs' standard variables (``AWS_ENDPOINT_URL_DYNAMODB``,
...), so the local emulator and moto need no code path of their own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CallBudget:
    """How long a call may take and how often botocore may try it."""

    read_timeout: float
    connect_timeout: float = 2
    attempts: int = 1  # botocore's total_max_attempts (standard retry mode)


DEFAULT_BUDGET = CallBudget(read_timeout=10, attempts=3)
#: The ``app/`` part of every client's user agent (CloudTrail's userAgent field).
USER_AGENT_APP_ID = "bedrock-gateway"

_clients: dict[tuple[str, CallBudget], Any] = {}
_lock = threading.RLock()
_session: Any = None


def client(service: str, budget: CallBudget = DEFAULT_BUDGET) -> Any:
    """The container's cached client for ``service`` with ``budget``'s timeouts and retries."""
    key = (service, budget)
    cached = _clients.get(key)
    if cached is not None:
        return cached
    with _lock:
        if key not in _clients:
            _clients[key] = _build(service, budget)
    return _clients[key]


def session() -> Any:
    """The container's botocore session (credentials, region): every client and signed call uses it."""
    global _session
    with _lock:
        if _session is None:
            import botocore.session  # here, so modules that never call AWS do not pay for the import

            _session = botocore.session.get_session()
        return _session


def _build(service: str, budget: CallBudget) -> Any:
    from botocore.config import Config

    extra: dict[str, Any] = {"signature_version": "s3v4"} if service == "s3" else {}
    config = Config(
        tcp_keepalive=True,
        max_pool_connections=32,
        connect_timeout=budget.connect_timeout,
        read_timeout=budget.read_timeout,
        # "standard", never "adaptive": adaptive's client-side rate limiter would slow every later,
        # unrelated request in the container after a throttled one.
        retries={"mode": "standard", "total_max_attempts": budget.attempts},
        user_agent_appid=USER_AGENT_APP_ID,
        **extra,
    )
    return session().create_client(service, config=config)


def reset() -> None:
    """Forget every cached client (tests that move an endpoint use this)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None
