"""Start and stop the whole local stack, for ``make run`` and for end-to-end tests."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

REGION = "us-east-1"
SYNC_HANDLER = "bedrock_gateway.handlers.api.handler"
WORKER_HANDLER = "bedrock_gateway.handlers.worker.handler"
DEAD_LETTER_HANDLER = "bedrock_gateway.handlers.dead_letters.handler"
DEAD_LETTER_TIMEOUT_MS = 30_000


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or SystemExit with a clear message when the port is taken."""
    # IPPROTO_TCP explicitly: asyncio only disables Nagle on sockets that say so, and Nagle holds
    # small stream frames back for up to 40 ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another port, e.g. PORT={port + 1}"
        ) from None
    sock.listen(1024)
    return sock


def configure_environment(emulator_url: str | None, extra: dict[str, str] | None = None) -> None:
    """Point boto3 at the emulator (or leave the real credential chain alone) and set local defaults."""
    env = {
        "AWS_DEFAULT_REGION": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or REGION,
        "POWERTOOLS_SERVICE_NAME": "bedrock-gateway",
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        "POWERTOOLS_METRICS_NAMESPACE": "BedrockGateway",
        # Metrics stay on: Powertools never clears a disabled metric set, so it would grow per request.
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"),
    }
    if emulator_url:
        from bedrock_emulator import emulator_env

        env.update(emulator_env(emulator_url))
    env.update(extra or {})
    os.environ.update(env)


class DevStack:
    """The API on ``port`` in front of the real handlers, with the emulator on ``emulator_port``.

    ``bedrock="aws"`` skips the emulator and uses the standard AWS credential chain.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        emulator_port: int = 8090,
        *,
        bedrock: str = "emulator",
        concurrency: int = 4,
        worker_concurrency: int = 2,
        quiet: bool = True,
        queue_settings=None,
        log_dir: str = ".local/logs",
        emulator_latency: dict | None = None,
        store_faults=None,
        store_read_timeout: float | None = None,
        duplicate_rate: float = 0.0,
        seed: int | None = None,
        streams: bool = False,
        aws_process: bool = False,
    ):
        """``store_faults`` (:class:`devstack.store_faults.StoreFaults`), ``store_read_timeout``,
        ``duplicate_rate``, ``seed``, ``streams`` and ``aws_process`` are ``make chaos``'s fault
        injection and bookkeeping; ``make run`` leaves them off."""
        from devstack.aws import QueueSettings

        self.host, self.bedrock, self.concurrency, self.quiet = host, bedrock, concurrency, quiet
        self.worker_concurrency = worker_concurrency
        self.queue_settings = queue_settings or QueueSettings()
        self.store_faults = store_faults
        self.store_read_timeout = store_read_timeout
        self.duplicate_rate = duplicate_rate
        self.seed = seed
        self.streams = streams
        self.aws_process = aws_process
        self.store_proxy = None
        self.worker_function = None
        self.dead_letter_function = None
        self.dead_letter_poller = None
        self.log_dir = Path(log_dir)
        self.emulator_latency = emulator_latency
        self.aws = None
        self.poller = None
        self._socket = bind(host, port)
        self.port = self._socket.getsockname()[1]
        self.emulator = None
        self._emulator_port = emulator_port
        self._server = None
        self._thread: threading.Thread | None = None
        self._functions: list[Any] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _prepare(self):
        import uvicorn

        from devstack.lambda_pool import LambdaFunction
        from devstack.server import create_app

        if self.bedrock == "emulator":
            from bedrock_emulator import Emulator

            self.emulator = Emulator(host=self.host, port=self._emulator_port).start()
            if self.emulator_latency:
                self.emulator.configure(model="*", **self.emulator_latency)
            configure_environment(self.emulator.url)
        elif self.bedrock == "aws":
            configure_environment(None)
        else:
            raise SystemExit(f"BEDROCK must be 'emulator' or 'aws', got {self.bedrock!r}")

        from bedrock_gateway import settings

        from devstack.aws import LocalAws
        from devstack.poller import SqsPoller

        settings.targets()  # fail fast on a bad config, before any process starts
        self.aws = LocalAws(
            self.host, settings=self.queue_settings, streams=self.streams, own_process=self.aws_process
        ).start()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        sync_function = LambdaFunction(
            SYNC_HANDLER,
            concurrency=self.concurrency,
            function_name="api",
            log_file=str(self.log_dir / "api.log"),
        )
        store_env = self._store_environment()
        self.worker_function = LambdaFunction(
            WORKER_HANDLER,
            concurrency=self.worker_concurrency,
            function_name="worker",
            timeout_ms=int(self.queue_settings.worker_timeout * 1000),
            log_file=str(self.log_dir / "worker.log"),
            environment=store_env,
        )
        self.dead_letter_function = LambdaFunction(
            DEAD_LETTER_HANDLER,
            concurrency=1,
            function_name="dead-letters",
            timeout_ms=DEAD_LETTER_TIMEOUT_MS,
            log_file=str(self.log_dir / "dead-letters.log"),
            environment=store_env,
        )
        self._functions += [sync_function, self.worker_function, self.dead_letter_function]
        for function in self._functions:
            function.warm()
        self.poller = SqsPoller(
            self.aws.client("sqs"),
            self.aws.env["JOBS_QUEUE_URL"],
            self.worker_function,
            concurrency=self.worker_concurrency,
            duplicate_rate=self.duplicate_rate,
            seed=self.seed,
        )
        self.dead_letter_poller = SqsPoller(
            self.aws.client("sqs"), self.aws.env["JOBS_DLQ_URL"], self.dead_letter_function, concurrency=1
        )
        stream_app = None
        try:
            from bedrock_gateway.handlers.stream_app import app as stream_app
        except ModuleNotFoundError as exc:
            if exc.name != "bedrock_gateway.handlers.stream_app":
                raise
        config = uvicorn.Config(
            create_app(sync_function, stream_app),
            log_level="warning" if self.quiet else "info",
            access_log=not self.quiet,
            lifespan="on",
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)

    def _store_environment(self) -> dict[str, str]:
        """The worker's and DLQ consumer's view of DynamoDB and S3: through the fault proxy, if any."""
        env: dict[str, str] = {}
        if self.store_read_timeout is not None:
            env["STORE_READ_TIMEOUT_SECONDS"] = str(self.store_read_timeout)
        if self.store_faults is not None and self.store_faults.active:
            from devstack.store_faults import StoreFaultProxy

            self.store_proxy = StoreFaultProxy(
                self.aws.url, self.store_faults, on_kill=self._kill_caller
            ).start()
            env["AWS_ENDPOINT_URL_DYNAMODB"] = env["AWS_ENDPOINT_URL_S3"] = self.store_proxy.url
        return env

    def _kill_caller(self, client_port: int) -> bool:
        """Kill the worker process that holds this connection to the fault proxy (if it is one)."""
        from devstack.store_faults import connection_owner

        pid = connection_owner(client_port, self.store_proxy.port, self.worker_function.pids())
        return pid is not None and self.worker_function.kill(pid, reason="at-state-write") is not None

    def start(self) -> DevStack:
        """Serve in a background thread (tests); returns once the API accepts connections."""
        self._prepare()
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        self.poller.start()
        self.dead_letter_poller.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("local API did not start")
            time.sleep(0.02)
        return self

    def serve_forever(self) -> None:
        """Serve in the foreground until Ctrl-C (``make run``)."""
        self._prepare()
        print(banner(self), flush=True)
        self.poller.start()
        self.dead_letter_poller.start()
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self.stop()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        for poller in (self.poller, self.dead_letter_poller):
            if poller is not None:
                poller.stop()
        for function in self._functions:
            function.close()
        if self.store_proxy is not None:
            self.store_proxy.stop()
        if self.aws is not None:
            self.aws.stop()
        if self.emulator is not None:
            self.emulator.stop()
        self._socket.close()

    def __enter__(self) -> DevStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def banner(stack: DevStack) -> str:
    from bedrock_gateway import settings

    config = settings.targets()
    names = ", ".join(f"{n} (default)" if n == config.default_target else n for n in config.targets)
    bedrock = "real Amazon Bedrock via the AWS credential chain"
    if stack.emulator:
        latency = stack.emulator_latency
        bedrock = (
            f"{stack.emulator.url}  (embedded emulator, "
            + (
                f"{latency['ttft_ms']} ms to first token, {latency['chunk_delay_ms']} ms per chunk; "
                if latency
                else "no added latency; "
            )
            + "faults: POST /_emulator/config)"
        )
    body = (
        r'{"prompt": "\n\nHuman: write an essay for living on mars in 1000 words\n\nAssistant:", '
        r'"max_tokens_to_sample": 4000}'
    )
    return f"""
Bedrock Gateway, local stack
  API       {stack.url}/v1   (API Gateway stand-in -> the real Lambda handlers)
  Bedrock   {bedrock}
  Targets   {config.source}: {names}
  Jobs      SQS queue + DLQ, DynamoDB, S3 on {stack.aws.url} (moto); the worker and the DLQ consumer
            poll like Lambda event sources
  Logs      {stack.log_dir}/api.log, worker.log, dead-letters.log (Powertools JSON logs and EMF metrics)

Try:
  curl -s {stack.url}/v1/targets
  curl -si {stack.url}/v1/targets/claude/invoke -H 'Content-Type: application/json' \\
       -d '{body}'
  curl -N {stack.url}/v1/targets/claude/stream -H 'Content-Type: application/json' \\
       -d '{body}'
  curl -si {stack.url}/v1/jobs -H 'Content-Type: application/json' \\
       -d '{{"target": "claude", "jobId": "demo-1", "body": {body}}}'
  curl -s {stack.url}/v1/jobs/demo-1

Ctrl-C stops everything.
"""
