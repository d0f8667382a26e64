"""API Gateway's Lambda authorizer step, locally: the real authorizer code, with a result cache.

As in AWS (a TOKEN authorizer on the ``Authorization`` header): a refused key is a 401 in the
gateway's JSON error shape, before any handler runs; an accepted one puts the authorizer's context
in the request context the handlers read. Answers are cached per token (300 s in AWS; seconds here,
so a revoked key stops working soon after ``make keys ARGS='revoke ...'``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

LOCAL_API_ARN = "arn:aws:execute-api:us-east-1:123456789012:local/local"


class LocalAuthorizer:
    """Runs ``bedrock_gateway.handlers.authorizer.authorize`` for each new token."""

    def __init__(self, cache_seconds: float = 5.0):
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def context_for(self, token: str | None, method: str, path: str) -> dict[str, Any] | None:
        """The ``requestContext.authorizer`` for ``token``, or None when API Gateway would answer 401."""
        if not token:
            return None
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(token)
        if cached and now - cached[0] < self.cache_seconds:
            return cached[1]
        from bedrock_gateway.handlers.authorizer import authorize

        try:
            answer = authorize(token, f"{LOCAL_API_ARN}/{method}{path}")
        except Exception:  # noqa: BLE001 - "Unauthorized" (and anything else) is a 401, as in AWS
            context = None
        else:
            context = {**answer["context"], "principalId": answer["principalId"]}
        with self._lock:
            self._cache[token] = (now, context)
        return context
