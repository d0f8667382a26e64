"""What each deployed function's init leaves behind, as Lambda runs it (``bench.common.LAMBDA_ENV``:
the variables the Lambda runtime sets, active tracing included):

- the garbage collector on again, with init's objects frozen (``bedrock_gateway.gc_init``; a handler
  module that forgot ``init_done()`` would run its container with the collector off), and only a few
  hundred unreachable objects frozen with them;
- boto3 never imported, at init, after SnapStart's priming or after the sync function's lazily
  imported jobs routes (the functions use botocore's clients; boto3's import is ~20 ms of a cold start).

Each function's init runs in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from infra_helpers import AUTH_CONTEXTS

from bench.common import LAMBDA_ENV
from infra import lambda_asset
from infra.components import dead_letter_consumer, job_worker, key_auth, sync_api_function

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEPLOYED_ENTRY_POINTS = {
    sync_api_function.HANDLER,
    job_worker.HANDLER,
    dead_letter_consumer.HANDLER,
    key_auth.HANDLER,
    lambda_asset.STREAM_APP,
}
#: Cycles init leaves for the (paused) collector: 341-578 in these functions when this was written.
MOST_UNREACHABLE_AT_INIT = 5_000

PROBE = """
import gc, importlib, json, sys
importlib.import_module(sys.argv[1])
state = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
from bedrock_gateway import snapstart
snapstart.before_snapshot()
if sys.argv[1].endswith(".api"):
    importlib.import_module("bedrock_gateway.handlers.jobs_api")  # the jobs routes, on first use
state["boto3"] = sorted(m for m in sys.modules if m == "boto3" or m.startswith("boto3."))
gc.unfreeze()
state["unreachable"] = gc.collect()
print(json.dumps(state))
"""


def _module(entry_point: str) -> str:
    return entry_point.partition(":")[0] if ":" in entry_point else entry_point.rpartition(".")[0]


def test_every_function_the_stack_deploys_is_probed(synthesize):
    deployed = set()
    for context in AUTH_CONTEXTS.values():
        for function in synthesize(**context).resources("AWS::Lambda::Function").values():
            handler = function["Properties"].get("Handler")
            if handler:  # CDK's own helper functions run inline code, with a handler of their own
                deployed.add(lambda_asset.STREAM_APP if handler == lambda_asset.RUN_SCRIPT_NAME else handler)
    ours = {h for h in deployed if h.startswith("bedrock_gateway.") or h == lambda_asset.STREAM_APP}
    assert ours == DEPLOYED_ENTRY_POINTS


@pytest.mark.parametrize("entry_point", sorted(DEPLOYED_ENTRY_POINTS))
def test_a_functions_init_ends_with_the_collector_on_init_frozen_and_no_boto3(entry_point):
    env = dict(
        os.environ,
        **LAMBDA_ENV,
        PYTHONPATH=str(PROJECT_ROOT / "lambda_src"),
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        TARGETS_FILE=str(PROJECT_ROOT / "config" / "targets.toml"),
        JOBS_TABLE_NAME="jobs",
        KEYS_TABLE_NAME="keys",
        RESULTS_BUCKET_NAME="results",
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE, _module(entry_point)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["enabled"], (
        f"{entry_point} left the garbage collector off: end its init with gc_init.init_done()"
    )
    assert state["frozen"] > 10_000
    assert state["unreachable"] < MOST_UNREACHABLE_AT_INIT
    assert state["boto3"] == []
