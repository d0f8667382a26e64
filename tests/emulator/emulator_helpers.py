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


def claude_body(prompt: str = "Tell me about Mars.", max_tokens: int = 300) -> str:
    return json.dumps({"prompt": f"\n\nHuman: {prompt}\n\nAssistant:", "max_tokens_to_sample": max_tokens})


def read_stream(response) -> list[dict]:
    """Every chunk of an InvokeModelWithResponseStream response, decoded."""
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"] if "chunk" in event]
