"""What the Lambda asset would contain, and how big it is: ``python -m bench.asset``.

The asset is ``lambda_src/`` (the ``bedrock_gateway`` package), the targets file, and
``requirements/runtime.txt`` installed for the Lambda platform the infra code names (read from
``infra/lambda_platform.py`` without importing CDK; the fallback is python 3.13 on arm64). The
installed dependencies are cached under ``.bench/asset/`` keyed by the lock file and the platform.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path

from bench.common import REPO, cached_runtime_install

LAMBDA_UNZIPPED_LIMIT_MB = 250  # functions and layers together, unzipped
LAMBDA_DIRECT_UPLOAD_ZIP_LIMIT_MB = 50  # zipped, when uploaded directly (CDK uploads through S3)
FALLBACK_PYTHON = "3.13"
FALLBACK_PLATFORMS = ("manylinux2014_aarch64",)


def lambda_platform() -> tuple[str, tuple[str, ...], str]:
    """(python version, pip platforms, where it came from) for the asset's wheels."""
    source = REPO / "infra" / "lambda_platform.py"
    try:
        text = source.read_text()
    except OSError:
        return FALLBACK_PYTHON, FALLBACK_PLATFORMS, "fallback (no infra/lambda_platform.py)"
    runtime = re.search(r"Runtime\.PYTHON_(\d+)_(\d+)", text)
    arch = re.search(r"Architecture\.(ARM_64|X86_64)", text)
    platforms_block = re.search(r"PIP_PLATFORMS\s*=\s*\{(.*?)\n\}", text, re.S)
    if not (runtime and arch and platforms_block):
        return FALLBACK_PYTHON, FALLBACK_PLATFORMS, "fallback (infra/lambda_platform.py not understood)"
    key = "arm64" if arch[1] == "ARM_64" else "x86_64"
    entry = re.search(rf'"{key}"\s*:\s*\(([^)]*)\)', platforms_block[1])
    platforms = tuple(re.findall(r'"([^"]+)"', entry[1])) if entry else ()
    if not platforms:
        return FALLBACK_PYTHON, FALLBACK_PLATFORMS, "fallback (no pip platforms in infra/lambda_platform.py)"
    return f"{runtime[1]}.{runtime[2]}", platforms, "infra/lambda_platform.py"


def install_dependencies(python: str, platforms: tuple[str, ...], *, timeout: float = 600) -> Path:
    """``pip install --target`` of the runtime lock for the Lambda platform, cached under ``.bench/asset``."""
    platform_args = [arg for platform in platforms for arg in ("--platform", platform)]
    return cached_runtime_install(
        "asset/deps",
        f"{python}|{','.join(platforms)}",
        [
            "--no-compile",
            "--only-binary=:all:",
            "--python-version",
            python,
            "--implementation",
            "cp",
            *platform_args,
        ],
        timeout=timeout,
    )


def asset_files(deps: Path) -> list[tuple[Path, str]]:
    """(file on disk, path in the zip) for everything the asset would hold."""
    files: list[tuple[Path, str]] = []
    package_root = REPO / "lambda_src"
    for root, prefix in ((package_root, ""), (deps, "")):
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.name == ".complete":
                continue
            relative = path.relative_to(root)
            if "__pycache__" in relative.parts or path.suffix == ".pyc":
                continue  # bytecode compiled by this machine's Python is for another version: not shipped
            files.append((path, prefix + relative.as_posix()))
    targets = REPO / "config" / "targets.toml"
    if targets.is_file():
        files.append((targets, "targets.toml"))
    return files


def measure(deps: Path) -> dict:
    """Unzipped and zipped size of the asset, in MB (10^6 bytes, as Lambda's limits are stated)."""
    files = asset_files(deps)
    unzipped = sum(path.stat().st_size for path, _ in files)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "asset.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for path, name in files:
                zf.write(path, name)
        zipped = archive.stat().st_size
    biggest: dict[str, int] = {}
    for path, name in files:
        top = name.split("/", 1)[0]
        biggest[top] = biggest.get(top, 0) + path.stat().st_size
    top = sorted(biggest.items(), key=lambda item: -item[1])[:6]
    return {
        "unzipped_mb": round(unzipped / 1e6, 2),
        "zipped_mb": round(zipped / 1e6, 2),
        "files": len(files),
        "largest_mb": {name: round(size / 1e6, 2) for name, size in top},
        "own_code_kb": round(
            sum(p.stat().st_size for p, n in files if n.startswith("bedrock_gateway/")) / 1e3, 1
        ),
    }


def asset_size() -> dict:
    python, platforms, source = lambda_platform()
    deps = install_dependencies(python, platforms)
    result = measure(deps)
    result.update(python=python, platforms=list(platforms), platform_source=source)
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(asset_size(), indent=2))
