"""The AWS region and session every command uses, so ``--region`` and ``$AWS_REGION`` mean the same
everywhere."""

from __future__ import annotations

import os
from typing import Any


def region(option: str | None = None) -> str | None:
    """``--region``, else ``$AWS_REGION``, else ``$AWS_DEFAULT_REGION``; None leaves it to the AWS
    profile (boto3 alone reads only ``$AWS_DEFAULT_REGION``, but Lambda and the AWS CLI docs use both)."""
    return option or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def session(option: str | None = None) -> Any:
    """A boto3 session in :func:`region` (boto3 is imported here: the CLI starts without it)."""
    import boto3

    return boto3.session.Session(region_name=region(option))
