"""Who is calling: one identity for every door, the namespace their jobs live in, what they may use.

A caller is an IAM principal (``auth=iam``: API Gateway's ``requestContext.identity``; a producer
writing to the queue directly: its SQS ``SenderId``), a gateway key's tenant (``auth=key``: the
Lambda authorizer's context), an API Gateway API key (``auth=apiKey``), or anonymous (``auth=none``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bedrock_gateway.core.errors import ErrorCode, GatewayError

if TYPE_CHECKING:
    from bedrock_gateway.core.targets import TargetsConfig

#: Tenant names, as the key CLI accepts them and the metrics carry them.
TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: IAM unique ids (``AROA...``, ``AIDA...``), as API Gateway's identity.caller and SQS's SenderId start.
_UNIQUE_ID = re.compile(r"^[A-Z0-9]{10,128}$")


@dataclass(frozen=True)
class Caller:
    """One caller. ``owner`` names the namespace its jobs live in; ``tenant`` is what usage is billed to."""

    kind: str  # "iam", "key", "apiKey", "anonymous"
    principal: str  # the IAM unique id, the tenant, the API key id, or "anonymous"
    allowed_targets: frozenset[str] | None = None  # None: every configured target

    @property
    def owner(self) -> str:
        return f"{self.kind}:{self.principal}"

    @property
    def tenant(self) -> str:
        """The name usage is recorded under (a key's tenant; an IAM principal's unique id)."""
        return self.principal

    @property
    def scope(self) -> str:
        """A short, stable, opaque prefix for this caller's job keys (no identifiers in storage keys)."""
        return hashlib.sha256(self.owner.encode()).hexdigest()[:20]

    def check_target(self, name: str, config: TargetsConfig) -> None:
        """Refuse a target outside this caller's allowlist (a 403, the same for unknown names). ``name``
        may be an alias: it is the target it stands for, at every door."""
        target = config.canonical_name(name)
        if self.allowed_targets is not None and target not in self.allowed_targets:
            raise GatewayError(
                ErrorCode.TARGET_NOT_ALLOWED,
                f"this key may not use target {target!r} (allowed: {', '.join(sorted(self.allowed_targets))})",
            )


ANONYMOUS = Caller("anonymous", "anonymous")


def iam_caller(unique_id: str) -> Caller:
    """An IAM principal from its unique id; ``AROA...:session`` keeps the role, not the session."""
    principal = unique_id.split(":", 1)[0]
    if not _UNIQUE_ID.match(principal):
        raise ValueError(f"not an IAM unique id: {unique_id!r}")
    return Caller("iam", principal)


def key_caller(tenant: str, targets: str | None) -> Caller:
    """A gateway key's tenant; ``targets`` is the key's comma-separated allowlist (empty: all)."""
    if not TENANT_NAME.match(tenant):
        raise ValueError(f"not a tenant name: {tenant!r}")
    allowed = frozenset(t for t in (targets or "").split(",") if t) or None
    return Caller("key", tenant, allowed)


def from_request_context(context: dict) -> Caller:
    """The caller API Gateway authenticated, from a REST API request context (``event.requestContext``,
    or what the Lambda Web Adapter passes in ``x-amzn-request-context``)."""
    authorizer = context.get("authorizer") or {}
    identity = context.get("identity") or {}
    if authorizer.get("tenant"):
        return key_caller(str(authorizer["tenant"]), authorizer.get("targets"))
    if identity.get("caller"):
        return iam_caller(str(identity["caller"]))
    if identity.get("apiKeyId"):
        return Caller("apiKey", str(identity["apiKeyId"]))
    return ANONYMOUS


def from_owner(owner: str) -> Caller:
    """The caller an ``owner`` string (``Caller.owner``) names, as the jobs API passes it to the worker."""
    kind, _, principal = owner.partition(":")
    if kind == "iam":
        return iam_caller(principal)
    if kind == "key":
        return key_caller(principal, None)
    if kind == "apiKey" and principal:
        return Caller("apiKey", principal)
    if owner == ANONYMOUS.owner:
        return ANONYMOUS
    raise ValueError(f"not a caller: {owner!r}")


def from_sqs_message(
    sender_id: str | None, caller_attribute: str | None, trusted_senders: frozenset[str]
) -> Caller:
    """Who sent a job message: the ``caller`` attribute when the gateway's own API sent it, else the sender.

    A producer writing to the queue directly is the IAM principal of its SQS ``SenderId``; only the
    senders in ``trusted_senders`` (the jobs API's role) may name another caller, so no producer can
    place a job in another caller's namespace.
    """
    sender = (sender_id or "").split(":", 1)[0]
    if caller_attribute is not None:
        if sender not in trusted_senders:
            raise GatewayError(
                ErrorCode.INVALID_REQUEST,
                "the 'caller' message attribute is set by the gateway's jobs API only; producers that write to "
                "the queue directly are identified by their IAM identity",
            )
        try:
            return from_owner(caller_attribute)
        except ValueError:
            raise GatewayError(
                ErrorCode.INVALID_REQUEST, "the 'caller' message attribute is malformed"
            ) from None
    if sender and _UNIQUE_ID.match(sender):
        return Caller("iam", sender)
    return ANONYMOUS
