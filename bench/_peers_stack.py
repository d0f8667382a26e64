"""The local stack for ``make bench-peers``, in a process of its own: ``python -m bench._peers_stack``.

``DevStack`` as ``make run`` builds it (API Gateway stand-in, the stream app, Lambda-like sync handler
processes, moto), but with Bedrock at an emulator that runs in another process, so that the peers are
measured against the very same emulator and the emulator's CPU is not counted as ours. It prints one
JSON line (``{"url": ..., "pid": ...}``) once it serves, sends everything else to ``--log``, and stops
when its stdin closes (or on SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench._peers_stack")
    parser.add_argument("--emulator-url", required=True)
    parser.add_argument("--targets-file", required=True)
    parser.add_argument("--concurrency", type=int, default=2, help="Lambda-like sync handler processes")
    parser.add_argument("--log-dir", required=True)
    args = parser.parse_args(argv)

    from bedrock_emulator import emulator_env

    # Point every boto3 client of the stack (and of the processes it spawns) at the shared emulator;
    # bedrock="aws" below then means "use the endpoints from the environment", not real AWS.
    os.environ.update(emulator_env(args.emulator_url))
    os.environ["TARGETS_FILE"] = args.targets_file
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)

    from devstack.stack import DevStack

    signal.signal(signal.SIGTERM, _stop)
    os.makedirs(args.log_dir, exist_ok=True)
    real_stdout, real_stderr = os.fdopen(os.dup(1), "w"), os.fdopen(os.dup(2), "w")
    log = open(os.path.join(args.log_dir, "front.log"), "a", buffering=1, encoding="utf-8")
    os.dup2(log.fileno(), 1)  # the stream app's JSON logs and uvicorn's warnings, as in make run
    os.dup2(log.fileno(), 2)
    stack = DevStack(
        port=0,
        emulator_port=0,
        https_port=None,
        bedrock="aws",
        concurrency=args.concurrency,
        worker_concurrency=1,
        log_dir=args.log_dir,
    )
    try:
        try:
            stack.start()
        except Exception:  # noqa: BLE001 - reported where the bench shows it (its log), then exit 1
            traceback.print_exc(file=real_stderr)
            real_stderr.flush()
            return 1
        # No job is sent in this benchmark: without its long polls, the front process is idle
        # between requests, so its CPU time is the requests' own.
        stack.poller.stop()
        print(json.dumps({"url": stack.url, "pid": os.getpid()}), file=real_stdout, flush=True)
        sys.stdin.read()  # until the parent closes it
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
