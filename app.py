#!/usr/bin/env python3
"""CDK entry point (``make synth``; cdk.json runs it with the venv's Python).

Offline and credential-free: the stack is environment-agnostic and the Lambda asset is bundled
locally. A bad targets config or context value stops here with a message naming it; an
unacknowledged cdk-nag error fails the synth (exit status 1) after CDK prints its validation report.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# The targets config is parsed with the same code the functions run (lambda_src/bedrock_gateway).
for path in (ROOT / "lambda_src", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bedrock_gateway.core.targets import ConfigError  # noqa: E402

from infra.application import build_app  # noqa: E402
from infra.settings import SettingsError  # noqa: E402

VALIDATION_REPORT = "validation-report.json"


def main() -> int:
    try:
        app, _stack = build_app()
    except (ConfigError, SettingsError) as exc:
        print(f"cdk synth: {exc}", file=sys.stderr)
        return 1
    try:
        assembly = app.synth()
    except RuntimeError as exc:
        if "ValidationFailed" not in str(exc):
            raise
        print(f"cdk synth: {exc}", file=sys.stderr)  # the report itself is already on stderr
        return 1
    return 1 if failed_validations(Path(assembly.directory)) else 0


def failed_validations(assembly_dir: Path) -> list[str]:
    """Plugin reports that failed. CDK raises for these unless the CLI runs the app in "process"
    mode, where it only sets the exit code of its own (jsii) process, which a Python app does not inherit."""
    report_file = assembly_dir / VALIDATION_REPORT
    if not report_file.is_file():
        return []
    report = json.loads(report_file.read_text(encoding="utf-8"))
    failed = [
        r.get("pluginName", "?") for r in report.get("pluginReports", []) if r.get("conclusion") == "failure"
    ]
    if failed:
        print(f"cdk synth: validation failed ({', '.join(failed)}); see {report_file}", file=sys.stderr)
    return failed


if __name__ == "__main__":
    sys.exit(main())
