"""Every AWS client the gateway uses (Bedrock, DynamoDB, S3, SQS), built through one locked factory.

The clients are botocore's, from one botocore session: boto3's clients are the same objects (but for
the transfer helpers boto3 adds to S3 clients, ``upload_file`` and the like, which nothing here uses),
and boto3 itself is never imported, which keeps about 20 ms off every cold start. Their user agent
names the gateway (``app/bedrock-gateway``), for CloudTrail. The session's data loader lists services
without looking inside their directories and reads plain dicts (see :func:`gateway_loader`), which
keeps about 30 ms more off the first client.

Sessions are not thread-safe, and the worker fans a batch out to threads: building clients here,
under one lock and from one session, is what makes that safe. Clients of one session also share its
loaded endpoint data. Endpoints follow the SDKs' standard variables (``AWS_ENDPOINT_URL_DYNAMODB``,
...), so the local emulator and moto need no code path of their own.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CallBudget:
    """How long a call may take and how often botocore may try it."""

    read_timeout: float
    connect_timeout: float = 2
    attempts: int = 1  # botocore's total_max_attempts (standard retry mode)


DEFAULT_BUDGET = CallBudget(read_timeout=10, attempts=3)
#: The ``app/`` part of every client's user agent (CloudTrail's userAgent field).
USER_AGENT_APP_ID = "bedrock-gateway"

_clients: dict[tuple[str, CallBudget], Any] = {}
_lock = threading.RLock()
_session: Any = None


def client(service: str, budget: CallBudget = DEFAULT_BUDGET) -> Any:
    """The container's cached client for ``service`` with ``budget``'s timeouts and retries."""
    key = (service, budget)
    cached = _clients.get(key)
    if cached is not None:
        return cached
    with _lock:
        if key not in _clients:
            _clients[key] = _build(service, budget)
    return _clients[key]


def session() -> Any:
    """The container's botocore session (credentials, region): every client and signed call uses it."""
    global _session
    with _lock:
        if _session is None:
            import botocore.session  # here, so modules that never call AWS do not pay for the import

            _session = botocore.session.get_session()
            _session.register_component(
                "data_loader", gateway_loader(_session.get_config_variable("data_path"))
            )
        return _session


def gateway_loader(data_path: str | None = None) -> Any:
    """botocore's data loader, searching ``AWS_DATA_PATH``'s directories as botocore's own does, made
    cheaper for a cold start in two ways (a first client, DynamoDB's, took 54 ms and now takes 24):

    - It lists the services on its search path by their directories alone. A client's first model
      load asks the loader for every service it has, only to check that the one wanted is among them,
      and botocore's loader answers by looking into each of its ~440 service directories for that
      kind of file, once for the model and once for the endpoint rules: about 20 ms. A service whose
      directory lacks the file still fails as it did, when its latest version is looked for
      (``DataNotFoundError``, of which the ``UnknownServiceError`` raised before is a kind).
    - Its JSON files parse into plain dicts, not OrderedDicts: dicts keep order too, and nothing in
      botocore needs more of them. ``endpoints.json`` alone (1.2 MB) parses in 6 ms, against 16.

    Every client of the session uses it, the credential chain's own too (STS, SSO).
    """
    from botocore.loaders import Loader, instance_cache

    class GatewayLoader(Loader):
        @instance_cache
        def list_available_services(self, type_name: str) -> list[str]:
            return _directories(self.search_paths)

    paths = [
        os.path.expanduser(os.path.expandvars(path)) for path in (data_path or "").split(os.pathsep) if path
    ]
    return GatewayLoader(extra_search_paths=paths, file_loader=PlainJSONFiles())


def _directories(paths: list[str]) -> list[str]:
    """The names of the directories in any of ``paths`` (those that exist), sorted."""
    names: set[str] = set()
    for path in paths:
        try:
            with os.scandir(path) as entries:
                names.update(entry.name for entry in entries if entry.is_dir())
        except OSError:  # not there, or not a directory: botocore skips such search paths too
            continue
    return sorted(names)


class PlainJSONFiles:
    """botocore's JSON data files (``.json``, or ``.json.gz`` as botocore ships most), read as plain
    dicts: the file loader interface botocore's ``Loader`` takes (``exists``, ``load_file``)."""

    EXTENSIONS = (".json", ".json.gz")

    def exists(self, file_path: str) -> bool:
        return any(os.path.isfile(file_path + extension) for extension in self.EXTENSIONS)

    def load_file(self, file_path: str) -> Any:
        for extension in self.EXTENSIONS:
            path = file_path + extension
            if os.path.isfile(path):
                return json.loads(_read(path))
        return None


def _read(path: str) -> bytes:
    if path.endswith(".gz"):
        import gzip  # as botocore's own loader has already, once it is imported

        with gzip.open(path, "rb") as compressed:
            return compressed.read()
    with open(path, "rb") as plain:
        return plain.read()


def _build(service: str, budget: CallBudget) -> Any:
    from botocore.config import Config

    extra: dict[str, Any] = {"signature_version": "s3v4"} if service == "s3" else {}
    config = Config(
        tcp_keepalive=True,
        max_pool_connections=32,
        connect_timeout=budget.connect_timeout,
        read_timeout=budget.read_timeout,
        # "standard", never "adaptive": adaptive's client-side rate limiter would slow every later,
        # unrelated request in the container after a throttled one.
        retries={"mode": "standard", "total_max_attempts": budget.attempts},
        user_agent_appid=USER_AGENT_APP_ID,
        **extra,
    )
    return session().create_client(service, config=config)


def reset() -> None:
    """Forget every cached client (tests that move an endpoint use this)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None
