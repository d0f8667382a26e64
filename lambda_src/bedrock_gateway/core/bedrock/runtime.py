"""Bedrock Runtime on the wire: signed HTTP requests whose bodies and answers pass through untouched.

A gateway forwards bodies, it does not rewrite them: going through boto3's operation layer would parse
every answer into Python objects and serialize it again (InvokeModel's body is opaque, but Converse's
and every stream event are not), which costs time on each chunk and is never byte-exact. So the data
plane is sent here with botocore's own pieces (SigV4 signing, its urllib3 session, its credential
chain and exceptions), while everything else (DynamoDB, S3, SQS, Bedrock's control plane) uses
botocore's clients. It also keeps bedrock-runtime's service model (a large JSON file) off the cold start.

The endpoint follows the SDKs' variables: ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, then
``AWS_ENDPOINT_URL``, else ``https://bedrock-runtime.<region>.amazonaws.com`` (``-fips`` with
``AWS_USE_FIPS_ENDPOINT=true``).
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bedrock_gateway.core.bedrock.translate import translate
from bedrock_gateway.core.clients import CallBudget, session
from bedrock_gateway.core.errors import ErrorCode, GatewayError, from_bedrock_code

#: Bedrock Runtime's operations, by the path segment after ``/model/{modelId}/``.
OPERATIONS = ("invoke", "invoke-with-response-stream", "converse", "converse-stream", "count-tokens")


@dataclass
class RuntimeResponse:
    """A successful answer: its headers (lower-case names) and its body, read or still streaming."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    raw: Any = None  # the urllib3 response of a streamed answer

    def chunks(self) -> Iterator[bytes]:
        """A streamed body, as the network delivers it (translated errors if the connection fails)."""
        try:
            yield from self.raw.stream(1024 * 1024)
        except GatewayError:
            raise
        except Exception as exc:
            raise translate(_as_botocore(exc)) from exc

    def close(self) -> None:
        if self.raw is not None:
            try:
                self.raw.close()
            except Exception:  # noqa: BLE001 - closing a dead connection may fail; nothing to do
                pass


def _as_botocore(exc: BaseException) -> BaseException:
    """urllib3's read errors in a stream, as the botocore errors :func:`translate` knows."""
    from botocore import exceptions as bex
    from urllib3 import exceptions as u3

    if isinstance(exc, u3.ReadTimeoutError):
        return bex.ReadTimeoutError(endpoint_url="bedrock-runtime")
    if isinstance(exc, u3.HTTPError | ConnectionError | OSError):
        return bex.ConnectionClosedError(endpoint_url="bedrock-runtime")
    return exc


class RuntimeClient:
    """Signed POSTs to Bedrock Runtime with one call budget (timeouts), over one connection pool."""

    def __init__(self, budget: CallBudget):
        from botocore.httpsession import URLLib3Session
        from botocore.utils import get_environ_proxies

        self.region, self._credentials = _region_and_credentials()
        if not self.region:
            raise GatewayError(ErrorCode.INTERNAL, "no AWS region configured (set AWS_DEFAULT_REGION)")
        self.endpoint = _endpoint(self.region)
        self._http = URLLib3Session(
            verify=os.environ.get("AWS_CA_BUNDLE") or True,
            proxies=get_environ_proxies(self.endpoint),
            timeout=(budget.connect_timeout, budget.read_timeout),
            max_pool_connections=32,
            # As boto3 clients set them: without TCP_NODELAY, a request's headers and body leave in two
            # segments and the body waits for a delayed ACK (~40 ms per call).
            socket_options=[
                (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
                (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
            ],
        )

    def post(
        self, model_id: str, operation: str, body: bytes, headers: dict[str, str], *, stream: bool = False
    ) -> RuntimeResponse:
        """``POST /model/{modelId}/{operation}``; a Bedrock error answer raises its GatewayError."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        if self._credentials is None:
            raise GatewayError(ErrorCode.INTERNAL, "no AWS credentials available to call Bedrock")
        url = f"{self.endpoint}/model/{quote(model_id, safe='')}/{operation}"
        request = AWSRequest(method="POST", url=url, data=body, headers=headers, stream_output=stream)
        SigV4Auth(self._credentials.get_frozen_credentials(), "bedrock", self.region).add_auth(request)
        try:
            answer = self._http.send(request.prepare())
        except Exception as exc:
            raise translate(exc) from exc
        response_headers = {k.lower(): v for k, v in answer.headers.items()}
        if answer.status_code >= 300:
            raise _error(answer.status_code, response_headers, answer.content)
        if stream:
            return RuntimeResponse(answer.status_code, response_headers, raw=answer.raw)
        return RuntimeResponse(answer.status_code, response_headers, answer.content)


def _region_and_credentials() -> tuple[str | None, Any]:
    """The Region and credentials the data plane signs with.

    In Lambda (without SnapStart) both are in the function's environment: the role's keys and session
    token, where the SDK's chain would find them first anyway. Read there with botocore's own provider,
    a stream or a sync call builds no botocore session, which would cost its first request ~35 ms of
    imports and setup it has no other use for. Elsewhere (profiles, SSO, ...) and under SnapStart
    (container credentials instead of keys in the environment), the container's session and its chain.
    """
    lambda_keys = all(
        os.environ.get(name)
        for name in (
            "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        )
    )
    if lambda_keys and not os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        from botocore.credentials import EnvProvider

        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        credentials = EnvProvider().load()
        if region and credentials is not None:
            return region, credentials
    boto = session()
    return boto.get_config_variable("region"), boto.get_credentials()


def _endpoint(region: str) -> str:
    configured = os.environ.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME") or os.environ.get("AWS_ENDPOINT_URL")
    if configured:
        return configured.rstrip("/")
    fips = "-fips" if os.environ.get("AWS_USE_FIPS_ENDPOINT", "").lower() == "true" else ""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://bedrock-runtime{fips}.{region}.{suffix}"


def _error(status: int, headers: dict[str, str], content: bytes) -> GatewayError:
    """Bedrock's error answer (``x-amzn-ErrorType`` or ``__type``, and ``message``) as a GatewayError."""
    try:
        document = json.loads(content or b"{}")
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    error_type = headers.get("x-amzn-errortype") or str(document.get("__type") or document.get("code") or "")
    error_type = error_type.split(":", 1)[0].rsplit("#", 1)[-1]
    message = str(document.get("message") or document.get("Message") or "")
    error = from_bedrock_code(error_type, message)
    if error.code is ErrorCode.INTERNAL:  # an unmodeled code: its status says whether a retry may help
        if status == 429:
            return GatewayError(ErrorCode.THROTTLING, error.message, detail=error.detail)
        if status >= 500:
            return GatewayError(ErrorCode.INTERNAL_SERVER, error.message, detail=error.detail)
    return error


_clients: dict[CallBudget, RuntimeClient] = {}
_lock = threading.Lock()


def runtime_client(budget: CallBudget) -> RuntimeClient:
    """The container's runtime client for ``budget``."""
    cached = _clients.get(budget)
    if cached is None:
        with _lock:
            if budget not in _clients:
                _clients[budget] = RuntimeClient(budget)
            cached = _clients[budget]
    return cached


def reset() -> None:
    with _lock:
        _clients.clear()
