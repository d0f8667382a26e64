"""Operator CLI: ``python -m gateway_cli targets models|profiles|provisioned|check|explain``.

Runs on a developer's machine or in CI, never in Lambda (it is not in the asset); boto3 is imported
only by commands that call AWS.
"""

from .main import main

__all__ = ["main"]
