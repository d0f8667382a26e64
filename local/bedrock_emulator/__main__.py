"""``python -m bedrock_emulator --host 127.0.0.1 --port 8090``: serve until interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from . import Emulator


def _interrupt(signum, frame) -> None:
    """SIGTERM (e.g. from a process manager) stops as cleanly as Ctrl-C."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bedrock_emulator", description="Offline Amazon Bedrock emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090, help="0 picks a free port")
    parser.add_argument("--region", default="us-east-1", help="default region when a request is unsigned")
    parser.add_argument("--account", default="123456789012")
    parser.add_argument("--catalog", default=None, help="a catalog JSON file instead of the bundled one")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    signal.signal(signal.SIGTERM, _interrupt)
    emu = Emulator(
        host=args.host,
        port=args.port,
        region=args.region,
        account=args.account,
        catalog_path=args.catalog,
        verbose=args.verbose,
    )
    try:
        try:
            emu.start()
        except OSError as exc:
            print(
                f"bedrock_emulator: cannot listen on {args.host}:{args.port} ({exc.strerror}); "
                f"pick another port, e.g. --port {args.port + 1} (make emulator EMULATOR_PORT={args.port + 1})",
                file=sys.stderr,
            )
            return 1
        print(f"Bedrock emulator listening on {emu.url}", flush=True)
        emu.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
