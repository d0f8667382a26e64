"""SQS, DynamoDB and S3 on this machine: moto in server mode, with the stack's queues, tables and bucket.

Resource settings mirror the deployed stack where behaviour depends on them (DLQ redrive with
maxReceiveCount, the visibility timeouts, and their consistency with the worker's timeout). moto is
served with what the stack relies on and moto lacks: each DynamoDB and SQS call atomic, as the
services are, and connections kept alive (see :func:`_moto_server`).
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from bedrock_gateway.core.jobs.store import LEASE_MARGIN_MS

from devstack.store_faults import read_request_body

REGION = "us-east-1"
STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
MOTO_SENDER_ID = "AIDAIT2UOQQY3AUEKVGXU"  # moto.sqs.models.DEFAULT_SENDER_ID


@dataclass(frozen=True)
class QueueSettings:
    """The jobs queue and DLQ, and the worker timeout they must agree with (all in seconds)."""

    #: At least the worker's timeout plus the lease margin, as in the deployed stack: a delivery that
    #: follows a dead one must find its lease expired (AWS also requires >= the function timeout of
    #: an event source's queue). Retries come sooner: the worker sets a failed message's visibility.
    visibility_timeout: int = 360
    max_receive_count: int = 5
    retry_base_seconds: float = 1.0  # worker backoff base; 10 s in AWS
    worker_timeout: float = 300
    #: How long the DLQ consumer leaves a message it keeps before looking at it again.
    dead_letter_hold: int = 30

    def __post_init__(self) -> None:
        if self.visibility_timeout < self.worker_timeout + LEASE_MARGIN_MS / 1000:
            raise ValueError(
                f"visibility timeout {self.visibility_timeout} s < worker timeout {self.worker_timeout} s "
                f"+ lease margin {LEASE_MARGIN_MS / 1000} s: a redelivery could meet a dead delivery's lease"
            )


class LocalAws:
    """moto server plus the stack's resources; ``env`` holds what the handlers need to find them."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        settings: QueueSettings | None = None,
        *,
        streams: bool = False,
        own_process: bool = False,
    ):
        """``own_process``: serve moto from processes of their own, off this process's GIL, one for
        SQS and one for DynamoDB and S3 (``make chaos``, where moto answers most of the stack's calls
        and is what limits its pace)."""
        self.settings = settings or QueueSettings()
        self.streams = streams
        self._address = (host, port)
        self._own_process = own_process
        self._server = None
        self._processes: list[tuple] = []
        self.url = ""  # DynamoDB and S3 (and SQS, unless own_process)
        self.sqs_url = ""
        self.env: dict[str, str] = {}

    def start(self) -> LocalAws:
        if self._own_process:
            self.url, self.sqs_url = self._spawn(self._address[1]), self._spawn(0)
        else:
            self._server = _moto_server(*self._address)
            self._server.start()
            host, port = self._server.get_host_and_port()
            self.url = self.sqs_url = f"http://{host}:{port}"
        endpoints = {
            "AWS_ENDPOINT_URL_SQS": self.sqs_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.url,
            "AWS_ENDPOINT_URL_S3": self.url,
        }
        os.environ.update(endpoints)
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        self.env = dict(endpoints, **self.create_resources())
        os.environ.update(self.env)
        return self

    def _spawn(self, port: int) -> str:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        conn, child = context.Pipe()
        process = context.Process(target=_serve_moto, args=(child, self._address[0], port), daemon=True)
        process.start()
        host, port = conn.recv()
        self._processes.append((process, conn))
        return f"http://{host}:{port}"

    def client(self, service: str):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.sqs_url if service == "sqs" else self.url,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def create_resources(self, suffix: str = "") -> dict[str, str]:
        """The stack's queue, DLQ, tables and bucket (names end in ``suffix``); returns their env."""
        sqs, dynamodb, s3 = self.client("sqs"), self.client("dynamodb"), self.client("s3")
        dlq_url = sqs.create_queue(
            QueueName=f"bedrock-gateway-jobs-dlq{suffix}",
            Attributes={"VisibilityTimeout": str(self.settings.dead_letter_hold)},
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue_url = sqs.create_queue(
            QueueName=f"bedrock-gateway-jobs{suffix}",
            Attributes={
                "VisibilityTimeout": str(self.settings.visibility_timeout),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": self.settings.max_receive_count}
                ),
            },
        )["QueueUrl"]
        jobs_table, keys_table = f"bedrock-gateway-jobs{suffix}", f"bedrock-gateway-keys{suffix}"
        # Local only: make chaos reads every write to the jobs, independently of the store's code.
        jobs_stream = {"StreamSpecification": STREAM} if self.streams else {}
        for table, key, extra in ((jobs_table, "jobId", jobs_stream), (keys_table, "keyHash", {})):
            dynamodb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                **extra,
            )
        bucket = f"bedrock-gateway-results{suffix}"
        s3.create_bucket(Bucket=bucket)
        return {
            "JOBS_QUEUE_URL": queue_url,
            "JOBS_DLQ_URL": dlq_url,
            "JOBS_TABLE_NAME": jobs_table,
            "KEYS_TABLE_NAME": keys_table,
            "RESULTS_BUCKET_NAME": bucket,
            "MAX_RECEIVE_COUNT": str(self.settings.max_receive_count),
            # moto gives every message the same SenderId, so locally the jobs API and a producer writing
            # to the queue directly look alike: both are trusted to name the job's caller.
            "TRUSTED_JOB_SENDERS": MOTO_SENDER_ID,
            "RETRY_BASE_SECONDS": str(self.settings.retry_base_seconds),
        }

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        for process, conn in self._processes:
            conn.close()
            process.join(10)
            if process.is_alive():
                process.kill()


def _moto_server(host: str, port: int) -> _MotoServer:
    """moto's backends behind a keep-alive HTTP server, its DynamoDB and SQS calls made atomic."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    _atomic_calls()
    _fast_routing()
    return _MotoServer(host, port, DomainDispatcherApplication(create_backend_app))


def _fast_routing() -> None:
    """Two of moto's costs that grow with use, cut: its server lists its own package directory (a
    stat per service) on every request, under a global lock, and its SQS receive computes every
    queue attribute three times per message handed out (each a scan of the whole queue) to read
    the retention period. The list never changes; the retention period is read directly."""
    from moto import backends
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules

    def is_message_valid_based_on_retention_period(self, queue_name: str, message) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > unix_time()

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period


class _MotoServer:
    """moto's WSGI app served over HTTP/1.1 keep-alive connections.

    moto's own server (werkzeug's) closes the connection after every answer: each call then costs
    a TCP connection and a server thread on top of moto's work, about half of what a call costs."""

    def __init__(self, host: str, port: int, app) -> None:
        handler = type("MotoHandler", (_WsgiHandler,), {"app": app})
        self._server = _QuietServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), port

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops connections under load (a 1 s SYN retry each)
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # callers killed mid-call are routine
            super().handle_error(request, client_address)


class _WsgiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the head and the body go out in two writes
    app: Any = None

    def log_message(self, format: str, *args) -> None:
        pass

    def _handle(self) -> None:
        try:
            body = read_request_body(self)
        except (ConnectionAbortedError, ValueError):
            self.close_connection = True
            return
        path, _, query = self.path.partition("?")
        environ = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, "latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": self.path,
            "REQUEST_URI": self.path,
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        answer: dict = {}

        def start_response(status, headers, exc_info=None):
            answer.update(status=status, headers=headers)
            return lambda data: None

        result = self.app(environ, start_response)
        try:
            payload = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        code, _, reason = answer["status"].partition(" ")
        self.send_response_only(int(code), reason)
        length = str(len(payload))
        for name, value in answer["headers"]:
            if name.lower() == "content-length" and self.command == "HEAD":
                length = value
            elif name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


def _atomic_calls() -> None:
    """DynamoDB and SQS apply each call atomically; moto's threaded server does not. Two concurrent
    UpdateItems on one item can both pass their condition (two deliveries of one job both claiming
    it); two concurrent ReceiveMessages can hand out, or move to the DLQ, the same message. One lock
    per service around moto's calls restores what the stack relies on (a receive waiting for
    messages lets go of it while it waits)."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.models import Queue
    from moto.sqs.responses import SQSResponse

    if getattr(DynamoHandler, "_atomic_calls", False):
        return
    for handler in (DynamoHandler, SQSResponse):
        _one_at_a_time(handler, threading.Lock())
    sqs_lock = SQSResponse._atomic_calls
    waiting = Queue.wait_for_messages

    def wait_for_messages(self, timeout: int) -> None:
        sqs_lock.release()
        try:
            waiting(self, timeout)
        finally:
            sqs_lock.acquire()

    Queue.wait_for_messages = wait_for_messages


def _one_at_a_time(handler, lock: threading.Lock) -> None:
    unlocked = handler.call_action

    def call_action(self):
        with lock:
            return unlocked(self)

    handler.call_action = call_action
    handler._atomic_calls = lock


def _serve_moto(conn, host: str, port: int) -> None:
    """moto in a process of its own: serves until the parent closes the pipe."""
    from devstack.lambda_pool import exit_with_parent

    exit_with_parent()
    server = _moto_server(host, port)
    server.start()
    conn.send(server.get_host_and_port())
    try:
        conn.recv()
    except (EOFError, OSError):
        pass
    server.stop()


def redrive(sqs, dead_letter_queue_url: str, queue_url: str) -> int:
    """What an SQS DLQ redrive (StartMessageMoveTask, which moto lacks) does: every visible DLQ message
    moves to ``queue_url`` as a new message (new id, fresh receive count) with its message attributes
    (a jobs API message's ``caller``: the job stays its caller's). Returns how many moved."""
    moved = 0
    while messages := sqs.receive_message(
        QueueUrl=dead_letter_queue_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=0,
        MessageAttributeNames=["All"],
    ).get("Messages", []):
        for message in messages:
            attributes = (
                {"MessageAttributes": message["MessageAttributes"]} if "MessageAttributes" in message else {}
            )
            sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"], **attributes)
            sqs.delete_message(QueueUrl=dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved
