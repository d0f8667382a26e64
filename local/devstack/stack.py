"""Start and stop the whole local stack, for ``make run`` and for end-to-end tests."""

from __future__ import annotations

import os
import shlex
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


def bind(host: str, port: int, setting: str = "PORT") -> socket.socket:
    """A listening socket, or SystemExit with a clear message when the port is taken (``setting``: the
    make variable that moves it)."""
    # IPPROTO_TCP explicitly: asyncio only disables Nagle on sockets that say so, and Nagle holds
    # small stream frames back for up to 40 ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise cannot_listen(host, port, exc, setting) from None
    sock.listen(1024)
    return sock


def cannot_listen(host: str, port: int, exc: OSError, setting: str) -> SystemExit:
    """The exit for a port that is taken (``setting``: the make variable that moves it)."""
    return SystemExit(
        f"cannot listen on {host}:{port} ({exc.strerror}); pick another port, e.g. {setting}={port + 1}"
    )


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


def create_key(aws, tenant: str, targets: tuple[str, ...] = ()) -> str:
    """A gateway key in the local keys table (moto); returns its secret."""
    from bedrock_gateway.core.keys import DynamoKeyStore, issue

    secret, _ = issue(DynamoKeyStore(aws.env["KEYS_TABLE_NAME"], aws.client("dynamodb")), tenant, targets)
    return secret


class DevStack:
    """The API on ``port`` in front of the real handlers, with the emulator on ``emulator_port``.

    The same API is served over HTTPS on ``https_port`` (``None``: not at all), with a certificate
    from a local CA kept in ``tls_dir`` (``ca_bundle`` is what clients trust). ``bedrock="aws"`` skips
    the emulator and uses the standard AWS credential chain. ``auth="key"`` requires a gateway key on
    every ``/v1`` request, as ``auth=key`` does in AWS. A development key (tenant ``dev``, every
    target) is created at start as ``dev_key`` in either mode.
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
        auth: str = "none",
        auth_cache_seconds: float = 5.0,
        https_port: int | None = 8443,
        tls_dir: str = ".local/tls",
    ):
        """``store_faults`` (:class:`devstack.store_faults.StoreFaults`), ``store_read_timeout``,
        ``duplicate_rate``, ``seed``, ``streams`` and ``aws_process`` are ``make chaos``'s fault
        injection and bookkeeping; ``make run`` leaves them off."""
        from devstack.aws import QueueSettings

        if auth not in ("key", "none"):
            raise SystemExit(f"AUTH must be 'key' or 'none', got {auth!r}")
        self.auth, self.auth_cache_seconds = auth, auth_cache_seconds
        self.dev_key: str | None = None
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
        self.tls_dir = Path(tls_dir)
        self._socket = bind(host, port)
        self.port = self._socket.getsockname()[1]
        self._https_socket: socket.socket | None = None
        self.https_port: int | None = None
        if https_port is not None:
            try:
                self._https_socket = bind(host, https_port, "HTTPS_PORT")
            except SystemExit:
                self._socket.close()
                raise
            self.https_port = self._https_socket.getsockname()[1]
        self.emulator = None
        self._emulator_port = emulator_port
        self._server = None
        self._thread: threading.Thread | None = None
        self._https_server = None
        self._https_thread: threading.Thread | None = None
        self._functions: list[Any] = []
        self._stream_log = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def https_url(self) -> str | None:
        return None if self.https_port is None else f"https://{self.host}:{self.https_port}"

    @property
    def ca_bundle(self) -> str:
        """The local CA's certificate (absolute): what a client trusts to reach ``https_url``."""
        from devstack.tls import LocalCertificates

        return str(LocalCertificates(self.tls_dir.resolve()).ca)

    def _prepare(self):
        import uvicorn

        from devstack.lambda_pool import LambdaFunction
        from devstack.server import create_app

        if self.bedrock == "emulator":
            from bedrock_emulator import Emulator

            try:
                self.emulator = Emulator(host=self.host, port=self._emulator_port).start()
            except OSError as exc:
                raise cannot_listen(self.host, self._emulator_port, exc, "EMULATOR_PORT") from None
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
        ).start()  # env first: processes inherit it
        settings.reset()  # this process reads the tables' names too (the authorizer)
        # Always: the Bedrock-compatible routes (the banner's SDK exports) take a gateway key whatever
        # the auth mode; with auth=key every other route does too.
        from devstack.authorizer import LocalAuthorizer

        self.dev_key = create_key(self.aws, tenant="dev")
        authorizer = LocalAuthorizer(self.auth_cache_seconds)
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
        if stream_app is not None:
            from devstack.function_logs import FunctionLog

            # What the stream function would send to its log group, next to the other functions' logs.
            self._stream_log = FunctionLog(self.log_dir / "stream.log")
            stream_app = self._stream_log.wrap(stream_app)
        app = create_app(sync_function, stream_app, authorizer, keys_everywhere=self.auth == "key")
        options = dict(
            log_level="warning" if self.quiet else "info",
            access_log=not self.quiet,
            lifespan="on",
            timeout_keep_alive=30,
            # Ctrl-C must not wait on idle clients: an HTTPS connection's close waits for the client's
            # TLS close_notify (up to 30 s) when the client process keeps its pool open.
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(uvicorn.Config(app, **options))
        if self._https_socket is not None:
            from devstack.tls import ensure_certificates

            try:
                certificates = ensure_certificates(self.tls_dir, [self.host])
            except OSError as exc:
                raise SystemExit(
                    f"cannot write the local HTTPS certificates in {self.tls_dir}: {exc}"
                ) from None
            https_config = uvicorn.Config(
                app,
                ssl_certfile=str(certificates.server),
                ssl_keyfile=str(certificates.server_key),
                **options,
            )
            self._https_server = uvicorn.Server(https_config)

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
        """Serve in background threads (tests); returns once the API accepts connections."""
        try:
            self._prepare()
            self._thread = _serve_in_thread(self._server, self._socket)
            self._start_https()
            self.poller.start()
            self.dead_letter_poller.start()
            _wait_until_started(self._server, self._thread)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_https(self) -> None:
        if self._https_server is not None:
            self._https_thread = _serve_in_thread(self._https_server, self._https_socket)
            _wait_until_started(self._https_server, self._https_thread)

    def serve_forever(self, state_file: str | None = ".local/stack.json") -> None:
        """Serve in the foreground until Ctrl-C (``make run``); ``state_file`` tells ``make keys
        ARGS='... --local'`` where the local keys table is."""
        try:
            self._prepare()
            if state_file:
                self._write_state(Path(state_file))
            # HTTPS in a thread; plain HTTP in the foreground, where uvicorn handles Ctrl-C and SIGTERM.
            self._start_https()
            print(banner(self), flush=True)
            self.poller.start()
            self.dead_letter_poller.start()
            self._server.run(sockets=[self._socket])
        finally:
            self.stop()
            if state_file:
                self._forget_state(Path(state_file))

    def _forget_state(self, state_file: Path) -> None:
        """Remove the state file this stack wrote (not one a later ``make run`` from here wrote)."""
        import json

        try:
            if json.loads(state_file.read_text()).get("api") == self.url:
                state_file.unlink()
        except (OSError, ValueError):
            pass

    def _write_state(self, state_file: Path) -> None:
        import json

        from bedrock_gateway import settings

        state_file.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "api": self.url,
            "https_api": self.https_url,
            "ca_bundle": self.ca_bundle if self.https_url else None,
            "aws_endpoint": self.aws.url,
            "keys_table": self.aws.env["KEYS_TABLE_NAME"],
            "targets_file": settings.targets().source,  # what `make keys --local` checks names against
        }
        state_file.write_text(json.dumps(state, indent=2) + "\n")

    def stop(self) -> None:
        for server in (self._server, self._https_server):
            if server is not None:
                server.should_exit = True
        for thread in (self._thread, self._https_thread):
            if thread is not None:
                thread.join(timeout=10)
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
        if self._stream_log is not None:
            self._stream_log.close()
        self._socket.close()
        if self._https_socket is not None:
            self._https_socket.close()

    def __enter__(self) -> DevStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _serve_in_thread(server, sock: socket.socket) -> threading.Thread:
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    return thread


def _wait_until_started(server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("local API did not start")
        time.sleep(0.02)


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
    body = r'{"messages": [{"role": "user", "content": "write an essay for living on mars in 1000 words"}]}'
    key = ""
    access = "no authentication (AUTH=none)"
    if stack.auth == "key":
        key = '-H "Authorization: Bearer $GATEWAY_KEY" '
        access = "gateway keys, as auth=key in AWS; development key (tenant dev, every target) below"
    https = []
    if stack.https_url:
        https = [
            f"  HTTPS     {stack.https_url}/v1  (the same API; certificate from the local CA in {stack.tls_dir}/)"
        ]
    lines = [
        "",
        "Bedrock Gateway, local stack",
        f"  API       {stack.url}/v1   (API Gateway stand-in -> the real Lambda handlers)",
        *https,
        f"  Access    {access}",
        f"  Bedrock   {bedrock}",
        f"  Targets   {config.source}: {names}",
        f"  Jobs      SQS queue + DLQ, DynamoDB, S3 on {stack.aws.url} (moto); the worker and the DLQ consumer",
        "            poll like Lambda event sources; producers may send to the queue directly (any AWS",
        f"            credentials): {stack.aws.env['JOBS_QUEUE_URL']}",
        "            Keys and jobs live in memory: they go when make run stops (a new development key each run)",
        f"  Logs      {stack.log_dir}/api.log, stream.log, worker.log, dead-letters.log (Powertools JSON logs",
        "            and EMF metrics, as CloudWatch gets them; make usage sums their usage lines)",
        "",
    ]
    if stack.auth == "key":
        lines += ["Set the development key:", f"  export GATEWAY_KEY={stack.dev_key}", ""]
    if stack.https_url:
        lines += [
            "Use your AWS SDK unchanged (boto3, langchain-aws, ...): Bedrock Runtime's own routes, over HTTPS:",
            f"  export AWS_ENDPOINT_URL_BEDROCK_RUNTIME={stack.https_url}",
            f"  export AWS_BEARER_TOKEN_BEDROCK={stack.dev_key}",
            f"  export AWS_CA_BUNDLE={shlex.quote(stack.ca_bundle)}",
            "  export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}",
            "  (AWS_CA_BUNDLE replaces the system CAs for AWS SDKs in that shell: call real AWS from another one.)",
            "The Anthropic SDK's AnthropicBedrock takes the key and region above, its URL and CA from:",
            f"  export ANTHROPIC_BEDROCK_BASE_URL={stack.https_url}",
            f"  export SSL_CERT_FILE={shlex.quote(stack.ca_bundle)}",
            "  (SSL_CERT_FILE replaces the system CAs for OpenSSL, Python and httpx in that shell too.)",
            "",
        ]
    lines += [
        "Try:",
        f"  curl -s {key}{stack.url}/v1/targets",
        f"  curl -si {key}{stack.url}/v1/targets/claude/invoke -H 'Content-Type: application/json' \\",
        f"       -d '{body}'",
        f"  curl -N {key}{stack.url}/v1/targets/claude/stream -H 'Content-Type: application/json' \\",
        f"       -d '{body}'",
        f"  curl -si {key}{stack.url}/v1/jobs -H 'Content-Type: application/json' \\",
        f'       -d \'{{"target": "claude", "jobId": "demo-1", "body": {body}}}\'',
        f"  curl -s {key}{stack.url}/v1/jobs/demo-1",
        "",
        "More keys: make keys ARGS='create --local --tenant team-a --targets claude'",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)
