"""What each deployed function's init leaves behind, as Lambda runs it (``AWS_LAMBDA_FUNCTION_NAME``
set): the garbage collector on again, with init's objects frozen (``bedrock_gateway.gc_init``: a
handler module that forgot ``init_done()`` would run its container with the collector off), and
boto3 never imported (the functions use botocore's clients; boto3's import is about 20 ms of a cold
start). Each function's init runs in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra import lambda_asset
from infra.components import dead_letter_consumer, job_worker, key_auth, sync_api_function

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEPLOYED_ENTRY_POINTS = [
    sync_api_function.HANDLER,
    job_worker.HANDLER,
    dead_letter_consumer.HANDLER,
    key_auth.HANDLER,
    lambda_asset.STREAM_APP,
]

PROBE = """
import gc, importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count(), "boto3": "boto3" in sys.modules}))
"""


@pytest.mark.parametrize("entry_point", DEPLOYED_ENTRY_POINTS)
def test_a_functions_init_ends_with_the_collector_on_init_frozen_and_no_boto3(entry_point):
    module = entry_point.partition(":")[0] if ":" in entry_point else entry_point.rpartition(".")[0]
    env = dict(
        os.environ,
        PYTHONPATH=str(PROJECT_ROOT / "lambda_src"),
        AWS_LAMBDA_FUNCTION_NAME="gateway-function",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        TARGETS_FILE=str(PROJECT_ROOT / "config" / "targets.toml"),
        JOBS_TABLE_NAME="jobs",
        KEYS_TABLE_NAME="keys",
        RESULTS_BUCKET_NAME="results",
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["enabled"], f"{module} left the garbage collector off: end its init with gc_init.init_done()"
    assert state["frozen"] > 10_000
    assert not state["boto3"]
