"""Helpers shared by the emulator tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import json

import boto3
from botocore.config import Config

# "total_max_attempts": 1 is one attempt; botocore's "max_attempts" counts retries on top of the first.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=30)


def make_client(service: str, url: str, region: str = "us-east-1"):
    """A real boto3 client pointed at the emulator, with dummy credentials and no retries."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=NO_RETRIES,
    )


# An Active model callable on demand in us-east-1 (the provisioned throughput abcdefghij12 serves it too).
MODEL = "amazon.nova-pro-v1:0"
# A current Claude through a system inference profile (Claude 4.x models are profile-only).
CLAUDE = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def nova_body(prompt: str = "Tell me about Mars.", max_tokens: int = 300) -> str:
    return json.dumps(
        {
            "schemaVersion": "messages-v1",
            "messages": [{"role": "user", "content": [{"text": prompt}]}],
            "inferenceConfig": {"maxTokens": max_tokens},
        }
    )


def nova_text(payload: dict) -> str:
    """The text of a Nova response body, or of one Nova stream chunk ("" for non-text chunks)."""
    if "output" in payload:
        return payload["output"]["message"]["content"][0]["text"]
    return payload.get("contentBlockDelta", {}).get("delta", {}).get("text", "")


def claude_body(prompt: str = "Tell me about Mars.", max_tokens: int = 300, **extra) -> str:
    return json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": prompt}],
            **extra,
        }
    )


def read_stream(response) -> list[dict]:
    """Every chunk of an InvokeModelWithResponseStream response, decoded."""
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"] if "chunk" in event]
