"""``make invoke EVENT=events/<file>.json``: replay a sample event through its real handler, in-process.

API Gateway proxy events go to the sync API handler, SQS events to the worker. Bedrock is the
embedded emulator unless ``BEDROCK=aws``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from devstack.apigw import LambdaContext

RESPONSE_MARKER = "--- handler response ---"  # what the handler logged (as Lambda would) comes before it
HANDLERS = {
    "api": "bedrock_gateway.handlers.api.handler",
    "sqs": "bedrock_gateway.handlers.worker.handler",
}


def handler_for(event: dict) -> str:
    """Which handler an event is for, by its shape."""
    if "httpMethod" in event and "requestContext" in event:
        return HANDLERS["api"]
    records = event.get("Records") or []
    if records and records[0].get("eventSource") == "aws:sqs":
        return HANDLERS["sqs"]
    raise SystemExit("unrecognised event: expected an API Gateway REST proxy event or an SQS event")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m devstack.invoke events/<file>.json", file=sys.stderr)
        return 2
    try:
        event = json.loads(Path(argv[0]).read_text())
    except (OSError, ValueError) as exc:
        print(f"cannot read event {argv[0]}: {exc}", file=sys.stderr)
        return 2
    path = handler_for(event)

    from devstack.stack import configure_environment

    emulator = None
    if os.environ.get("BEDROCK", "emulator") == "emulator":
        from bedrock_emulator import Emulator

        emulator = Emulator(port=0).start()
    configure_environment(emulator.url if emulator else None)
    local_aws = None
    if path == HANDLERS["sqs"]:
        from devstack.aws import LocalAws

        local_aws = LocalAws().start()
    try:
        from devstack.lambda_pool import load_handler

        result = load_handler(path)(event, LambdaContext(function_name=path.rsplit(".", 2)[-2]))
    finally:
        if local_aws:
            local_aws.stop()
        if emulator:
            emulator.stop()
    print(RESPONSE_MARKER)
    print(json.dumps(result, indent=2))
    if isinstance(result, dict) and isinstance(result.get("body"), str) and not result.get("isBase64Encoded"):
        try:
            print("\nbody:", json.dumps(json.loads(result["body"]), indent=2))
        except ValueError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
