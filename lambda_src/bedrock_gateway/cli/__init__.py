"""Developer CLI: ``python -m bedrock_gateway.cli targets models|profiles|provisioned|check|explain``.

Ships in the Lambda asset but never runs there; boto3 is imported only by commands that call AWS.
"""

from .main import main

__all__ = ["main"]
