"""SnapStart hooks: registered with the runtime's ``snapshot_restore_py``, priming before the snapshot,
fresh randomness after every restore, and the hook paths the Lambda Web Adapter calls."""

from __future__ import annotations

import asyncio
import importlib
import random
import sys
import types

import httpx
import pytest
from bedrock_gateway import gc_init, snapstart


@pytest.fixture
def registry(monkeypatch):
    """An empty hook registry (the handlers imported by other tests registered theirs)."""
    monkeypatch.setattr(snapstart, "_primes", [])
    monkeypatch.setattr(snapstart, "_refreshes", [])
    return snapstart


def test_before_snapshot_runs_every_priming_hook_last_registered_first(registry):
    ran = []
    registry.register(prime=lambda: ran.append("first"))
    registry.register(prime=lambda: ran.append("second"))
    registry.before_snapshot()
    assert ran == ["second", "first"]  # the runtime's order: before-snapshot hooks in reverse


def test_a_failing_priming_hook_does_not_stop_the_snapshot(registry, caplog):
    ran = []

    def broken():
        raise RuntimeError("JOBS_TABLE_NAME is not set")

    registry.register(prime=lambda: ran.append("other"))
    registry.register(prime=broken)
    registry.before_snapshot()
    assert ran == ["other"]
    assert "SnapStart priming failed: broken" in caplog.text


def test_every_restored_environment_draws_its_own_random_numbers(registry):
    registry.register(prime=lambda: None)
    snapshot = random.getstate()  # what every environment resumed from one snapshot starts with

    def restored_draws(run_hooks: bool) -> list[float]:
        draws = []
        for _ in range(2):  # two environments restored from the same snapshot
            random.setstate(snapshot)
            if run_hooks:
                registry.after_restore()
            draws.append(random.random())
        return draws

    same = restored_draws(run_hooks=False)
    assert same[0] == same[1]  # the bug the hook prevents: jitter in lockstep across environments
    fresh = restored_draws(run_hooks=True)
    assert fresh[0] != fresh[1]


def test_hooks_register_with_the_lambda_runtime_when_it_is_there(monkeypatch):
    """In Lambda, ``snapshot_restore_py`` (the managed runtime's) receives the hooks and runs them."""
    runtime = types.ModuleType("snapshot_restore_py")
    before: list = []
    after: list = []
    runtime.register_before_snapshot = lambda func, *a, **k: before.append(func) or func
    runtime.register_after_restore = lambda func, *a, **k: after.append(func) or func
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    registered = snapstart._primes, snapstart._refreshes  # what imported handlers registered
    fresh = importlib.reload(snapstart)
    try:
        primed = []
        monkeypatch.setattr(gc_init, "freeze_primed", lambda: primed.append("frozen"))
        fresh.register(prime=lambda: primed.append(1))
        fresh.register(prime=lambda: primed.append(2))
        # one priming hook each, plus what every function shares (outbound connections, and the
        # garbage collector's freeze of what priming built); one refresh for the process
        assert len(before) == 4 and len(after) == 1
        for hook in reversed(before):  # as the runtime runs them
            hook()
        assert primed == [2, 1, "frozen"]
        random.seed(7)
        expected_without_refresh = random.random()
        random.seed(7)
        after[0]()
        assert random.random() != expected_without_refresh
    finally:
        monkeypatch.delitem(sys.modules, "snapshot_restore_py")
        importlib.reload(snapstart)
        snapstart._primes, snapstart._refreshes = registered


def test_the_adapter_hook_paths_run_the_hooks_and_everything_else_reaches_the_app(registry):
    calls = []
    registry.register(prime=lambda: calls.append("prime"))
    registry._refreshes.append(lambda: calls.append("refresh"))

    async def inner(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    async def exercise():
        transport = httpx.ASGITransport(app=registry.with_hook_paths(inner))
        async with httpx.AsyncClient(transport=transport, base_url="http://lwa") as client:
            before = await client.post(registry.BEFORE_SNAPSHOT_PATH)
            after = await client.post(registry.AFTER_RESTORE_PATH)
            wrong_method = await client.get(registry.AFTER_RESTORE_PATH)
            other = await client.post("/v1/targets/claude/stream")
        return before, after, wrong_method, other

    before, after, wrong_method, other = asyncio.run(exercise())
    assert (before.status_code, after.status_code, wrong_method.status_code) == (204, 204, 405)
    assert calls == ["prime", "refresh"]  # a GET runs nothing
    assert other.status_code == 200 and other.content == b"app"
