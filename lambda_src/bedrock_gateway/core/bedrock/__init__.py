"""Calling Bedrock: InvokeModel, streams, capabilities and error translation.

One module per concern; this package re-exports what the doors use, so they say ``bedrock.invoke``.
"""

from bedrock_gateway.core.bedrock.capabilities import prime as prime_capabilities
from bedrock_gateway.core.bedrock.capabilities import streaming_supported
from bedrock_gateway.core.bedrock.invoke import InvokeResult, invoke
from bedrock_gateway.core.bedrock.streaming import ChunkStream, StreamMetrics, open_stream
from bedrock_gateway.core.bedrock.translate import translate
from bedrock_gateway.core.clients import CallBudget, client

__all__ = [
    "CallBudget",
    "ChunkStream",
    "InvokeResult",
    "StreamMetrics",
    "client",
    "invoke",
    "open_stream",
    "prime_capabilities",
    "reset",
    "streaming_supported",
    "translate",
]


def reset() -> None:
    """Forget cached clients and capabilities (tests that move an endpoint use this)."""
    from bedrock_gateway.core import clients
    from bedrock_gateway.core.bedrock import capabilities

    clients.reset()
    capabilities.reset()
