"""The in-process stream app's output goes to its own log file; the process's other output does not."""

from __future__ import annotations

import asyncio
import json

import anyio
from bedrock_gateway.observability import logger
from devstack.function_logs import FunctionLog


async def _app(scope, receive, send) -> None:
    print(json.dumps({"printed": "in the request"}))  # as Powertools prints an EMF document
    logger.info("logged in the request")
    await anyio.to_thread.run_sync(lambda: print(json.dumps({"printed": "by a worker thread"})))


def test_what_the_app_prints_and_logs_while_serving_goes_to_its_log_and_nothing_else(tmp_path, capsys):
    log = FunctionLog(tmp_path / "stream.log")
    app = log.wrap(_app)
    print("before")
    asyncio.run(app({"type": "http"}, None, None))
    print("after")
    logger.info("logged outside any request")
    log.close()

    lines = [json.loads(line) for line in (tmp_path / "stream.log").read_text().splitlines()]
    assert {line.get("printed") for line in lines} >= {"in the request", "by a worker thread"}
    assert [line["message"] for line in lines if "message" in line] == ["logged in the request"]
    terminal = capsys.readouterr().out
    assert "before" in terminal and "after" in terminal and "in the request" not in terminal
    # Once the log is closed (the stack stopped), a late request's output is not lost either.
    asyncio.run(app({"type": "http"}, None, None))
    assert "in the request" in capsys.readouterr().out
