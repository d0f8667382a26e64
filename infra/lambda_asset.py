"""The one Lambda asset all functions share, staged without Docker.

Asset root: the code under ``lambda_src/`` (no tests, no caches), the runtime requirements installed
as Lambda-platform wheels, the targets file as ``targets.toml`` and the ``run.sh`` the Lambda Web
Adapter starts. Nothing from ``local/``, ``tests/``, ``infra/`` or the dev requirements.

The pip step is cached by a hash of the requirements and the platform, so repeat synths only copy
files; the asset hash is computed from the inputs, so CDK skips bundling when the staged asset is
already in ``cdk.out``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra import lambda_platform
from infra.settings import PROJECT_ROOT

LAMBDA_SRC = PROJECT_ROOT / "lambda_src"
RUNTIME_REQUIREMENTS = PROJECT_ROOT / "requirements" / "runtime.txt"
#: Bump when the layout of the asset changes, so old cached/staged assets are not reused.
ASSET_FORMAT = "1"
STREAM_APP = "bedrock_gateway.handlers.stream_lambda:app"
#: How uvicorn serves the stream app. Named, not "auto": no probing for uvloop, httptools or websocket
#: libraries the asset does not ship; no lifespan protocol (the app has no startup work: SnapStart
#: priming runs on the adapter's hook path); no Server header; only warnings and errors logged (the
#: adapter's CloudWatch logs get no access or start-up lines). `make bench` runs the cold start with the
#: same settings (bench/_child.py, checked by tests/bench).
UVICORN_OPTIONS = (
    "--loop",
    "asyncio",
    "--http",
    "h11",
    "--ws",
    "none",
    "--lifespan",
    "off",
    "--no-server-header",
    "--no-access-log",
    "--log-level",
    "warning",
)
TARGETS_FILE_NAME = "targets.toml"
RUN_SCRIPT_NAME = "run.sh"
RUN_SCRIPT = f"""#!/bin/sh
# The stream function's handler: the Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap) runs
# this script, waits for AWS_LWA_READINESS_CHECK_PATH to answer, then forwards each API Gateway
# request to the app over HTTP and streams its response back (AWS_LWA_INVOKE_MODE=response_stream).
export PYTHONPATH="${{LAMBDA_TASK_ROOT:-/var/task}}${{PYTHONPATH:+:$PYTHONPATH}}"
exec python3 -m uvicorn {STREAM_APP} --host 127.0.0.1 --port "${{AWS_LWA_PORT:-8000}}" {" ".join(UVICORN_OPTIONS)}
"""
_IGNORED_SOURCES = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    "tests",
    "test_*.py",
    "*_test.py",
    "conftest.py",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "*.egg-info",
    ".DS_Store",
)
# Bytecode compiled for the build machine's Python is useless to the Lambda runtime.
_IGNORED_DEPENDENCIES = ("__pycache__", "*.pyc")


def lambda_code(targets_file: Path, *, include_dependencies: bool = True) -> lambda_.Code:
    """The asset as ``lambda.Code``; bundled locally (a Docker fallback is never attempted)."""
    bundler = LocalAssetBundler(targets_file, include_dependencies=include_dependencies)
    return lambda_.Code.from_asset(
        str(LAMBDA_SRC),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=bundler.input_hash(),
        bundling=BundlingOptions(
            # Required by the API, never pulled: the local bundler always succeeds or raises.
            image=DockerImage.from_registry("local-bundling-only"),
            local=bundler,
        ),
    )


@jsii.implements(ILocalBundling)
class LocalAssetBundler:
    """``ILocalBundling`` that builds the asset with the synth machine's Python and pip."""

    def __init__(self, targets_file: Path, *, include_dependencies: bool = True):
        self.targets_file = Path(targets_file)
        self.include_dependencies = include_dependencies

    def try_bundle(self, output_dir: str, *_options, **_keyword_options) -> bool:
        build_asset(Path(output_dir), self.targets_file, include_dependencies=self.include_dependencies)
        return True

    def input_hash(self) -> str:
        """A hash of everything that goes into the asset, so an unchanged asset is never rebuilt."""
        digest = hashlib.sha256()
        digest.update(f"format={ASSET_FORMAT};deps={self.include_dependencies};".encode())
        digest.update(f"bytecode={runtime_interpreter() is not None};".encode())
        digest.update(dependencies_key().encode() if self.include_dependencies else b"-")
        digest.update(RUN_SCRIPT.encode())
        digest.update(self.targets_file.read_bytes())
        for path in sorted(_source_files()):
            digest.update(str(path.relative_to(LAMBDA_SRC)).encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()


def build_asset(
    output_dir: Path, targets_file: Path, *, include_dependencies: bool = True, cache_dir: Path | None = None
) -> Path:
    """Write the asset into ``output_dir`` (created if missing) and return it."""
    output_dir.mkdir(parents=True, exist_ok=True)
    if include_dependencies:
        _copy_tree(runtime_dependencies(cache_dir), output_dir, link=True)
    shutil.copytree(
        LAMBDA_SRC, output_dir, ignore=shutil.ignore_patterns(*_IGNORED_SOURCES), dirs_exist_ok=True
    )
    shutil.copyfile(targets_file, output_dir / TARGETS_FILE_NAME)
    run_script = output_dir / RUN_SCRIPT_NAME
    run_script.write_text(RUN_SCRIPT, encoding="utf-8")
    run_script.chmod(0o755)
    compile_bytecode(output_dir)
    return output_dir


def runtime_interpreter() -> str | None:
    """A Python matching the Lambda runtime on this machine (``$LAMBDA_PYTHON``, else ``python3.X``)."""
    return os.environ.get("LAMBDA_PYTHON") or shutil.which(f"python{lambda_platform.python_version()}")


def compile_bytecode(output_dir: Path) -> bool:
    """Ship bytecode for the runtime's Python, when such an interpreter is here.

    /var/task is read-only, so without it every cold start compiles boto3, botocore and Powertools
    from source (measured: 2-3x the cold start). ``unchecked-hash`` pyc files stay valid whatever
    mtimes the zip keeps. Without the interpreter the asset still works, only slower to start.
    """
    interpreter = runtime_interpreter()
    if interpreter is None:
        print(
            f"lambda asset: no python{lambda_platform.python_version()} on PATH, so the asset ships without "
            "bytecode and cold starts compile it (set LAMBDA_PYTHON, or install that Python)",
            file=sys.stderr,
        )
        return False
    subprocess.run(
        [
            interpreter,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(output_dir),
        ],
        check=True,
    )
    return True


def dependencies_key() -> str:
    """What the installed dependencies depend on: the lock file and the target platform."""
    digest = hashlib.sha256(RUNTIME_REQUIREMENTS.read_bytes())
    digest.update(
        f"{lambda_platform.python_version()};{lambda_platform.pip_platforms()};{ASSET_FORMAT}".encode()
    )
    return digest.hexdigest()[:32]


def runtime_dependencies(cache_dir: Path | None = None) -> Path:
    """``requirements/runtime.txt`` installed for the Lambda platform, cached by :func:`dependencies_key`."""
    cache_root = cache_dir or default_cache_dir()
    target = cache_root / dependencies_key()
    if target.is_dir():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="deps-", dir=cache_root))
    try:
        platforms = [arg for p in lambda_platform.pip_platforms() for arg in ("--platform", p)]
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "--no-compile",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            lambda_platform.python_version(),
            *platforms,
            "--target",
            str(staging),
            "--requirement",
            str(RUNTIME_REQUIREMENTS),
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(
                f"installing {RUNTIME_REQUIREMENTS.name} for {lambda_platform.RUNTIME.name} "
                f"{lambda_platform.ARCHITECTURE.name} failed:\n{result.stderr.strip()}"
            )
        shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: nothing runs them in Lambda
        try:
            staging.rename(target)
        except OSError:  # another synth finished the same install first
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def default_cache_dir() -> Path:
    """``$LAMBDA_DEPS_CACHE``, else ``$XDG_CACHE_HOME/bedrock-gateway/lambda-deps`` (outside the repo)."""
    explicit = os.environ.get("LAMBDA_DEPS_CACHE")
    if explicit:
        return Path(explicit)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "bedrock-gateway" / "lambda-deps"


def _source_files():
    ignored = shutil.ignore_patterns(*_IGNORED_SOURCES)
    for directory, dirnames, filenames in os.walk(LAMBDA_SRC):
        skip = ignored(directory, dirnames + filenames)
        dirnames[:] = sorted(d for d in dirnames if d not in skip)
        for name in filenames:
            if name not in skip:
                yield Path(directory) / name


def _copy_tree(source: Path, destination: Path, *, link: bool) -> None:
    """Copy ``source`` into ``destination``; hard links where possible (the cache is read-only to us)."""

    def copy(src: str, dst: str) -> None:
        if link:
            try:
                os.link(src, dst)
                return
            except OSError:
                pass
        shutil.copy2(src, dst)

    shutil.copytree(
        source,
        destination,
        ignore=shutil.ignore_patterns(*_IGNORED_DEPENDENCIES),
        copy_function=copy,
        dirs_exist_ok=True,
    )
