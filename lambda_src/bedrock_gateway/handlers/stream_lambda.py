"""The stream app as the Lambda Web Adapter serves it: :mod:`stream_app` plus SnapStart's hook paths.

The adapter starts uvicorn on ``app`` (``run.sh`` in the asset). With SnapStart, it calls
``POST`` :data:`~bedrock_gateway.snapstart.BEFORE_SNAPSHOT_PATH` once the app is ready and before
Lambda takes the snapshot, and ``POST`` :data:`~bedrock_gateway.snapstart.AFTER_RESTORE_PATH` after
each restore, before any request (``AWS_LWA_SNAPSTART_*_PATH``). ``make run`` and the tests serve
:data:`bedrock_gateway.handlers.stream_app.app` itself.
"""

from __future__ import annotations

from bedrock_gateway import gc_init, settings, snapstart
from bedrock_gateway.core import bedrock
from bedrock_gateway.handlers import stream_app


def _prime_snapshot() -> None:
    """What the first stream would build, without a call: capabilities, the Bedrock Runtime client."""
    bedrock.prime_capabilities(settings.targets())
    bedrock.runtime_client(settings.STREAM_BUDGET)


snapstart.register(prime=_prime_snapshot)
app = snapstart.with_hook_paths(stream_app.app)


gc_init.init_done()
