"""Lambda SnapStart: what a function primes before its snapshot and refreshes after each restore.

With SnapStart on (``cdk deploy -c snapStart=true``), Lambda runs a version's init once, when the
version is published, snapshots the initialized execution environment, and resumes new execution
environments from that snapshot instead of initializing them. Each function registers here:

- **before the snapshot**, its priming: what its first request would otherwise do, without a network
  call (the targets config, the catalog of record when a target needs it, the AWS clients from the
  locked factory, lazily imported modules). Priming is an optimization: a hook that fails is logged and
  the snapshot is taken all the same. The last hook freezes what init and priming built for the
  garbage collector (:func:`bedrock_gateway.gc_init.freeze_primed`).
- **after each restore**, what must differ between execution environments (AWS, "Handling uniqueness
  with Lambda SnapStart"): the ``random`` module's state, which every environment resumed from one
  snapshot would otherwise share, so retry and backoff jitter would run in lockstep. IDs come from
  ``os.urandom`` (uuid4, X-Ray), which needs nothing. No connection is open in the snapshot (priming
  makes no call), and botocore refreshes the container credentials SnapStart functions get when they
  expire.

The Lambda Python runtime runs the hooks through its ``snapshot_restore_py`` module (part of the
managed runtime, not of the asset). Elsewhere registration is only recorded, and
:func:`before_snapshot` / :func:`after_restore` run the hooks by hand (tests, the bench). The stream
function is a uvicorn process the Lambda Web Adapter starts, where no Python runtime calls hooks: the
adapter calls :data:`BEFORE_SNAPSHOT_PATH` and :data:`AFTER_RESTORE_PATH` over HTTP instead
(:func:`with_hook_paths`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from bedrock_gateway import gc_init

try:  # the Lambda Python runtime (3.12+) provides it; it is not in the asset
    from snapshot_restore_py import register_after_restore, register_before_snapshot
except ImportError:  # pragma: no cover - depends on where it runs

    def register_before_snapshot(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return func

    def register_after_restore(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return func


#: The Lambda Web Adapter's SnapStart hook paths on the stream app (``AWS_LWA_SNAPSTART_*_PATH``).
BEFORE_SNAPSHOT_PATH = "/_snapstart/before-snapshot"
AFTER_RESTORE_PATH = "/_snapstart/after-restore"

_logger = logging.getLogger(__name__)
_primes: list[Callable[[], object]] = []
_refreshes: list[Callable[[], object]] = []


def refresh_uniqueness() -> None:
    """Reseed the ``random`` module from the OS's entropy (AWS: restore uniqueness after a restore)."""
    random.seed()


def prime_outbound_connections() -> None:
    """What every function's first AWS call does once per process: encode a host name with IDNA
    (``encodings.idna`` is imported on first use)."""
    "bedrock-runtime.amazonaws.com".encode("idna")


def register(*, prime: Callable[[], object]) -> None:
    """Register a function's priming before the snapshot; the first call also registers what every
    function shares (:func:`prime_outbound_connections`, and the uniqueness refresh after restores)."""
    if not _refreshes:
        _refreshes.append(refresh_uniqueness)
        register_after_restore(_run_refreshes)
        # Hooks run last registered first: freezing what priming built comes after every priming.
        _add_prime(gc_init.freeze_primed)
        _add_prime(prime_outbound_connections)
    _add_prime(prime)


def _add_prime(prime: Callable[[], object]) -> None:
    _primes.append(prime)
    register_before_snapshot(_guarded(prime))


def before_snapshot() -> None:
    """Run the priming hooks, as Lambda does before it takes the snapshot (last registered first)."""
    for prime in reversed(_primes):
        _guarded(prime)()


def after_restore() -> None:
    """Run the after-restore hooks, as Lambda does when it resumes an environment from the snapshot."""
    _run_refreshes()


def _run_refreshes() -> None:
    for refresh in _refreshes:
        refresh()


def _guarded(prime: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            prime()
        except Exception:  # priming only saves time: the first request meets any real error
            _logger.warning("SnapStart priming failed: %s", getattr(prime, "__name__", prime), exc_info=True)

    return run


def with_hook_paths(app: Any) -> Any:
    """``app`` (ASGI) plus the adapter's hook paths: ``POST`` :data:`BEFORE_SNAPSHOT_PATH` primes,
    ``POST`` :data:`AFTER_RESTORE_PATH` refreshes; both answer 204. The adapter refuses these paths to
    callers, and API Gateway routes only the API's own paths to the function.

    The hooks run on anyio's worker threads, where the app runs its blocking Bedrock calls: priming
    that way also leaves anyio's thread backend loaded and a worker thread waiting in the snapshot.
    """

    hooks = {BEFORE_SNAPSHOT_PATH: before_snapshot, AFTER_RESTORE_PATH: after_restore}

    async def serve(scope: dict[str, Any], receive: Any, send: Any) -> None:
        hook = hooks.get(scope.get("path", "")) if scope["type"] == "http" else None
        if hook is None:
            await app(scope, receive, send)
            return
        status = 405
        if scope.get("method") == "POST":
            from anyio import to_thread

            await to_thread.run_sync(hook)
            status = 204
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    return serve
