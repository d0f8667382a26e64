"""API Gateway Lambda (TOKEN) authorizer for gateway keys: ``Authorization: Bearer <key>``.

A valid key gets an Allow for every route of the stage (API Gateway caches the answer per key, for
any route), its tenant and target allowlist in the context the handlers read, and its usage-plan API
key as ``usageIdentifierKey`` so API Gateway enforces the plan's rate, burst and quota. Anything else
(no key, a malformed, unknown, revoked or expired key) is ``Unauthorized``: a 401 from API Gateway,
with no hint of which.
"""

from __future__ import annotations

from typing import Any

from bedrock_gateway import container, gc_init, observability, snapstart
from bedrock_gateway.core.keys import KEY_FORMAT, key_hash

logger = observability.logger
# SnapStart, before the snapshot: the keys table's DynamoDB client, built without a call.
snapstart.register(prime=container.key_store)


def _stage_arn(method_arn: str) -> str:
    """``arn:aws:execute-api:<region>:<account>:<api>/<stage>/*/*`` from the called method's ARN."""
    prefix, _, path = method_arn.partition("/")
    stage = path.split("/", 1)[0]
    return f"{prefix}/{stage}/*/*"


def authorize(token: str, method_arn: str) -> dict[str, Any]:
    """The authorizer's answer for ``token``; raises ``Exception("Unauthorized")`` to refuse."""
    scheme, _, secret = token.partition(" ")
    if scheme.lower() != "bearer" or not KEY_FORMAT.match(secret.strip()):
        raise Exception("Unauthorized")
    record = container.key_store().get(key_hash(secret.strip()))
    if record is None or not record.valid():
        logger.info("key refused", extra={"key_id": record.key_id if record else None})
        raise Exception("Unauthorized")
    answer: dict[str, Any] = {
        "principalId": f"key:{record.tenant}",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": _stage_arn(method_arn)}
            ],
        },
        "context": {"tenant": record.tenant, "keyId": record.key_id, "targets": ",".join(record.targets)},
    }
    if record.usage_key:
        answer["usageIdentifierKey"] = record.usage_key
    return answer


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: Any) -> dict:
    """Lambda entry point for API Gateway TOKEN authorizer events."""
    return authorize(event.get("authorizationToken") or "", event.get("methodArn") or "")


gc_init.init_done()
