"""The local Lambda stand-in isolates invocations the way Lambda does: one dying never touches another."""

from __future__ import annotations

import time

import pytest
from devstack.lambda_pool import LambdaFunction

HANDLER = "tests.integration.devstack.lambda_handlers.sleep"


@pytest.fixture
def function():
    function = LambdaFunction(HANDLER, concurrency=2, function_name="sleepy", timeout_ms=20_000)
    function.warm()
    yield function
    function.close()


def _busy(function, count: int, deadline: float = 30) -> dict:
    end = time.monotonic() + deadline
    while len(busy := function.busy()) < count and time.monotonic() < end:
        time.sleep(0.05)
    return busy


def test_killing_one_invocation_never_kills_another(function):
    first = function.submit({"seconds": 3, "name": "first"})
    second = function.submit({"seconds": 3, "name": "second"})
    busy = _busy(function, 2)
    [victim] = [pid for pid, event in busy.items() if event["name"] == "first"]
    assert function.kill(victim) == victim

    killed, survived = first.result(timeout=30), second.result(timeout=30)
    assert killed["ok"] is False and killed["errorType"] == "Runtime.ExitError"
    assert survived["ok"] is True and survived["result"]["pid"] != victim
    [death] = function.deaths
    assert death.kind == "killed" and death.event["name"] == "first" and death.pid == victim
    # The dead environment was replaced: the function still runs two invocations at once.
    again = [function.submit({"seconds": 0.5}) for _ in range(2)]
    assert all(future.result(timeout=60)["ok"] for future in again)
    assert victim not in function.pids()


def test_a_timeout_kills_only_the_invocation_that_ran_over(function):
    function.timeout_ms = 1500
    slow = function.submit({"seconds": 10, "name": "slow"})
    quick = [function.invoke({"seconds": 0.1}) for _ in range(3)]  # the other environment keeps serving
    outcome = slow.result(timeout=30)
    assert outcome == {
        "ok": False,
        "errorType": "Sandbox.Timedout",
        "errorMessage": "Task timed out after 1.50 seconds",
    }
    assert all(result["ok"] for result in quick)
    assert [death.kind for death in function.deaths] == ["timeout"]
    assert function.invoke({"seconds": 0})["ok"]  # a fresh environment took its place


def test_an_environment_that_exits_fails_only_its_own_invocation(function):
    crashing = function.submit({"seconds": 0.5, "exit": True})
    steady = function.submit({"seconds": 1})
    assert crashing.result(timeout=30)["errorType"] == "Runtime.ExitError"
    assert steady.result(timeout=30)["ok"]
    assert [death.kind for death in function.deaths] == ["exited"]


def test_the_timeout_runs_from_the_invocation_not_from_the_cold_start():
    function = LambdaFunction(HANDLER, concurrency=1, function_name="sleepy", timeout_ms=3000)
    try:
        outcome = function.invoke({"seconds": 0})  # not warmed: the import happens first
        assert outcome["ok"] and outcome["result"]["remaining_ms"] > 2000
    finally:
        function.close()
