"""``make run``: the whole stack on this machine (``python -m devstack --help``)."""

import argparse
import os
import signal

from devstack.stack import DevStack

# So that `curl -N .../stream` visibly streams, as it does against Bedrock.
REALISTIC_LATENCY = {"ttft_ms": 250, "chunk_delay_ms": 20}


def _processes(text: str) -> int:
    """A count of Lambda-like processes: a whole number from 1 (``make run CONCURRENCY=16``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of processes, at least 1 (got {text!r})")
    return value


def _interrupt(signum, frame) -> None:
    # SIGTERM (a supervisor, `kill`, a test) stops the stack like Ctrl-C: every process it started goes too.
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--https-port",
        type=int,
        default=int(os.environ.get("HTTPS_PORT") or 8443),
        help="the same API over HTTPS (certificate from a local CA made in .local/tls/), for AWS SDKs",
    )
    parser.add_argument("--emulator-port", type=int, default=8090)
    parser.add_argument(
        "--bedrock", choices=("emulator", "aws"), default=os.environ.get("BEDROCK", "emulator")
    )
    parser.add_argument(
        "--concurrency",
        type=_processes,
        default=4,
        help="Lambda-like sync handler processes, each serving one request at a time (make run CONCURRENCY=N)",
    )
    parser.add_argument(
        "--auth",
        choices=("key", "none"),
        default=os.environ.get("AUTH", "key"),
        help="key: a gateway key on every request, as auth=key in AWS (a development key is printed); none",
    )
    parser.add_argument("--verbose", action="store_true", help="access log and INFO logs")
    parser.add_argument(
        "--latency",
        choices=("realistic", "none"),
        default=os.environ.get("EMULATOR_LATENCY", "realistic"),
        help="emulated model latency: realistic (250 ms to first token, 20 ms per chunk) or none",
    )
    args = parser.parse_args()
    if args.verbose:
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")
    stack = DevStack(
        args.host,
        args.port,
        args.emulator_port,
        bedrock=args.bedrock,
        concurrency=args.concurrency,
        quiet=not args.verbose,
        emulator_latency=REALISTIC_LATENCY if args.latency == "realistic" else None,
        auth=args.auth,
        https_port=args.https_port,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        stack.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
