"""The garbage collector through a Lambda function's init (bedrock_gateway.gc_init): paused from the
handlers package's import, on again and with init's objects frozen once the handler module is loaded;
left alone outside Lambda. The collector's state is the process's, so each case runs in a fresh one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"

PROBE = """
import gc, json, sys
import bedrock_gateway
state = {"after_top_package": gc.isenabled()}  # the CDK app and the CLI import it too
import bedrock_gateway.handlers
from bedrock_gateway import gc_init
state["after_package"] = [gc.isenabled(), gc.get_freeze_count()]
gc_init.init_done()
state["after_init"] = [gc.isenabled(), gc.get_freeze_count()]
gc_init.init_done()  # a second handler module in one process: nothing more happens
state["after_second_init"] = [gc.isenabled(), gc.get_freeze_count()]
frozen = gc.get_freeze_count()
objects = [[] for _ in range(1000)]  # what priming builds
gc_init.freeze_primed()
state["primed_frozen"] = gc.get_freeze_count() > frozen
print(json.dumps(state))
"""


def _probe(lambda_env: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_FUNCTION_NAME"}
    env["PYTHONPATH"] = str(LAMBDA_SRC)
    if lambda_env:
        env["AWS_LAMBDA_FUNCTION_NAME"] = "gateway-worker"
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_in_lambda_collection_pauses_for_init_and_what_init_built_is_frozen():
    state = _probe(lambda_env=True)
    assert state["after_top_package"]
    assert state["after_package"] == [False, 0]  # paused from the handlers package's import
    enabled, frozen = state["after_init"]
    assert enabled and frozen > 1000  # back on, with every module and object of init frozen
    assert state["after_second_init"] == state["after_init"]
    assert state["primed_frozen"]  # SnapStart: priming's objects frozen too


def test_outside_lambda_the_collector_is_left_alone():
    state = _probe(lambda_env=False)
    assert state["after_package"] == [True, 0]
    assert state["after_init"] == state["after_second_init"] == [True, 0]
    assert not state["primed_frozen"]
