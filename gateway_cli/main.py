"""Argument parsing, the list commands, output and error handling of ``python -m gateway_cli``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bedrock_gateway.core.model_ids import ModelIdError, parse_model_id
from bedrock_gateway.core.targets import TARGET_NAME, ConfigError, Target, load_targets

from .keys import KeysError
from .output import CliError, table

PROG = "python -m gateway_cli"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 problems found, 2 usage/config/AWS error)."""
    parser = _parser()
    args = parser.parse_args(argv)
    for option, default in (("config", os.environ.get("TARGETS_FILE")), ("region", None), ("json", False)):
        args.__dict__.setdefault(option, default)  # the options may come before or after the command
    if getattr(args, "run", None) is None:
        args.help_parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except (CliError, ConfigError, KeysError) as exc:
        return _fail(str(exc))
    except Exception as exc:  # AWS errors become one line; anything else is a bug
        message = _aws_error(exc)
        if message is None:
            raise
        return _fail(message)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _aws_error(exc: Exception) -> str | None:
    from botocore import exceptions as bex

    if isinstance(exc, bex.ClientError):
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "the call")
        return f"{operation} failed: {error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    if isinstance(exc, bex.NoCredentialsError):
        return "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
    if isinstance(exc, bex.NoRegionError):
        return "no AWS region configured: pass --region or set AWS_REGION"
    if isinstance(exc, (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError)):
        return f"cannot reach Bedrock: {exc}"
    if isinstance(exc, bex.BotoCoreError):
        return str(exc)
    return None


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="targets file (default: $TARGETS_FILE, else config/targets.toml)",
    )
    common.add_argument(
        "--region",
        default=argparse.SUPPRESS,
        help="AWS region (default: $AWS_REGION, else $AWS_DEFAULT_REGION or the AWS profile's)",
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="JSON output for scripts"
    )

    parser = argparse.ArgumentParser(prog=PROG, description="Bedrock gateway tools.")
    parser.set_defaults(help_parser=parser)
    groups = parser.add_subparsers(title="commands", metavar="COMMAND")
    targets = groups.add_parser(
        "targets",
        parents=[common],
        help="inspect Bedrock and check the targets config",
        description="Inspect Bedrock models and resources, and check the targets config.",
        epilog="examples:\n"
        "  targets check                                # before deploy; exit 1 on problems\n"
        "  targets models --provider anthropic          # with Legacy models' end-of-life dates\n"
        "  targets explain anthropic.claude-sonnet-4-6 --live   # names the profile it needs\n"
        "  targets provisioned --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    targets.set_defaults(help_parser=targets)
    commands = targets.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, run: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    models = command(
        "models", _models, "list foundation models (ListFoundationModels), with EOL dates of Legacy ones"
    )
    models.add_argument("--provider", help="provider name or ID prefix, e.g. anthropic")
    models.add_argument("--modality", type=str.upper, help="output modality: TEXT, IMAGE, EMBEDDING")
    models.add_argument("--input-modality", type=str.upper, help="input modality, e.g. IMAGE")
    models.add_argument(
        "--streaming",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="only models that can (--streaming) or cannot (--no-streaming) stream",
    )
    models.add_argument(
        "--inference-type", type=str.upper, choices=["ON_DEMAND", "INFERENCE_PROFILE", "PROVISIONED"]
    )
    profiles = command("profiles", _profiles, "list inference profiles, system and application")
    profiles.add_argument("--type", type=str.upper, choices=["SYSTEM_DEFINED", "APPLICATION"])
    provisioned = command("provisioned", _provisioned, "list provisioned throughputs with their status")
    provisioned.add_argument("--status", choices=["Creating", "InService", "Updating", "Failed"])
    command("check", _check, "check every target against the account (exit 1 on problems)")
    explain = command("explain", _explain, "what kind of identifier a model ID/ARN is and how it is invoked")
    explain.add_argument("id", help="a model ID or ARN, or the name of a configured target")
    explain.add_argument("--live", action="store_true", help="also ask the control plane (status, streaming)")
    from .keys import add_parser as add_keys

    add_keys(groups, common)
    from .usage import add_parser as add_usage

    add_usage(groups, common)
    return parser


def _account(args: argparse.Namespace):
    from .account import Account, control_client

    return Account(control_client(args.region))


def _models(args: argparse.Namespace) -> int:
    account = _account(args)
    items = list(account.foundation_models.values())
    if args.provider:
        wanted = args.provider.lower()
        items = [
            m for m in items if wanted in (m.get("providerName", "").lower(), m["modelId"].split(".", 1)[0])
        ]
    if args.modality:
        items = [m for m in items if args.modality in m.get("outputModalities", [])]
    if args.input_modality:
        items = [m for m in items if args.input_modality in m.get("inputModalities", [])]
    if args.streaming is not None:
        items = [m for m in items if bool(m.get("responseStreamingSupported")) is args.streaming]
    if args.inference_type:
        items = [m for m in items if args.inference_type in m.get("inferenceTypesSupported", [])]
    items.sort(key=lambda m: m["modelId"])
    return _output(
        args,
        items,
        ["MODEL ID", "PROVIDER", "IN", "OUT", "STREAM", "INFERENCE", "LIFECYCLE"],
        [
            [
                m["modelId"],
                m.get("providerName", ""),
                ",".join(m.get("inputModalities", [])),
                ",".join(m.get("outputModalities", [])),
                _yes_no(m.get("responseStreamingSupported")),
                ",".join(m.get("inferenceTypesSupported", [])),
                _lifecycle(m, account.region),
            ]
            for m in items
        ],
    )


def _lifecycle(model: dict[str, Any], region: str) -> str:
    """``ACTIVE``, or ``LEGACY (EOL 2027-04-08)``: a Legacy model's end of life, or that it is not published."""
    from .account import end_of_life

    status = model.get("modelLifecycle", {}).get("status", "")
    if status != "LEGACY":
        return status
    end = end_of_life(model, model["modelId"], region)
    return f"LEGACY (EOL {end})" if end else "LEGACY (EOL not published)"


def _profiles(args: argparse.Namespace) -> int:
    from .account import model_id_of, region_of

    items = _account(args).profiles(args.type)
    rows = []
    for p in items:
        arns = [m["modelArn"] for m in p.get("models", [])]
        use = p["inferenceProfileId"] if p.get("type") == "SYSTEM_DEFINED" else p["inferenceProfileArn"]
        rows.append(
            [
                use,
                p.get("type", ""),
                p.get("status", ""),
                ",".join(dict.fromkeys(model_id_of(a) for a in arns)),
                ",".join(dict.fromkeys(region_of(a) for a in arns)),
            ]
        )
    return _output(args, items, ["PROFILE (modelId)", "TYPE", "STATUS", "MODEL", "REGIONS"], rows)


def _provisioned(args: argparse.Namespace) -> int:
    from .account import model_id_of

    items = [
        p
        for p in _account(args).provisioned_throughputs(args.status)
        if args.status in (None, p.get("status"))
    ]
    rows = []
    for p in items:
        model = model_id_of(p.get("foundationModelArn", ""))
        if ":custom-model/" in p.get("modelArn", ""):
            model = f"custom {p['modelArn'].rsplit('/', 1)[-1]} (on {model})"
        units = str(p.get("modelUnits", ""))
        if p.get("desiredModelUnits") not in (None, p.get("modelUnits")):
            units += f"->{p['desiredModelUnits']}"
        rows.append(
            [p.get("provisionedModelName", ""), p.get("status", ""), model, units, p["provisionedModelArn"]]
        )
    return _output(args, items, ["NAME", "STATUS", "MODEL", "UNITS", "ARN (modelId)"], rows)


def _check(args: argparse.Namespace) -> int:
    from .check import PROBLEM, WARNING, Checker

    config = load_targets(args.config)
    account = _account(args)
    reports = Checker(account).check_config(config)
    problems = sum(f.level == PROBLEM for r in reports for f in r.findings)
    warnings = sum(f.level == WARNING for r in reports for f in r.findings)
    summary = (
        f"checked {_plural(len(reports), 'target')}: {_plural(problems, 'problem')}, "
        f"{_plural(warnings, 'warning')}"
    )
    if args.json:
        _print_json(
            {
                "config": config.source,
                "region": account.region,
                "ok": problems == 0,
                "problems": problems,
                "warnings": warnings,
                "targets": [r.to_dict() for r in reports],
            }
        )
    else:
        print(f"config {config.source}, region {account.region}")
        width = max(len(r.target.name) for r in reports)
        for r in reports:
            lines = [(f.level, f.text()) for f in r.findings] or [
                ("ok", f"{r.target.model_id}: {r.summary()}")
            ]
            for level, text in lines:
                print(f"{level:<8} {r.target.name:<{width}}  {text}")
        print(f"{summary} ({account.region})")
    return 1 if problems else 0


def _explain(args: argparse.Namespace) -> int:
    from .explain import explain, render

    target, configured = _explain_target(args)
    region, account, models, live = args.region, None, target.models, None
    if args.live:
        from .check import Checker

        checked = _account(args)
        report = Checker(checked).check(target)
        region = checked.region
        models = models or tuple(report.facts.get("routesTo") or ())
        arn = report.facts.get("arn") or ""
        account = arn.split(":")[4] if arn.count(":") >= 5 else None
        live = {k: v for k, v in report.to_dict().items() if k in ("status", "facts", "findings")}
    info = explain(target.ref, region, account, models, target=target.name if configured else None)
    if live is not None:
        info["live"] = live
    if args.json:
        _print_json(info)
    else:
        print("\n".join(render(info)))
    return 0


def _explain_target(args: argparse.Namespace) -> tuple[Target, bool]:
    """``args.id`` as a Target: a model ID/ARN, else the configured target of that name (then True)."""
    try:
        return Target(name=args.id, ref=parse_model_id(args.id)), False
    except ModelIdError as exc:
        error = str(exc)
    if TARGET_NAME.match(args.id):
        try:
            config = load_targets(args.config)
        except ConfigError:
            config = None
        if config is not None:
            if args.id in config.targets:
                return config.targets[args.id], True
            error = (
                f"{args.id!r} is not a target in {config.source} (have: {', '.join(config.targets)}); {error}"
            )
    raise CliError(error)


def _output(
    args: argparse.Namespace, items: list[dict[str, Any]], headers: list[str], rows: list[list[str]]
) -> int:
    if args.json:
        _print_json(items)
    elif rows:
        print("\n".join(table(headers, rows)))
    else:
        print("(none)")
    return 0


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _yes_no(value: Any) -> str:
    return "-" if value is None else "yes" if value else "no"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
