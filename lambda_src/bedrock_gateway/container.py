"""What a Lambda container builds once and shares: the job and key stores, result storage, the queue client.

All clients come from the one locked factory (:mod:`bedrock_gateway.core.clients`); :func:`prime`
builds them up front, before the worker fans a batch out to threads.
"""

from __future__ import annotations

import functools
from typing import Any

from bedrock_gateway import settings
from bedrock_gateway.core.clients import client
from bedrock_gateway.core.jobs.results import ResultStorage
from bedrock_gateway.core.jobs.store import DynamoJobStore
from bedrock_gateway.core.keys import DynamoKeyStore


def dynamodb() -> Any:
    return client("dynamodb", settings.store_budget())


def sqs() -> Any:
    return client("sqs", settings.store_budget())


@functools.cache
def job_store() -> DynamoJobStore:
    """The jobs table (``JOBS_TABLE_NAME``)."""
    name = settings.current().jobs_table
    if not name:
        raise RuntimeError("JOBS_TABLE_NAME is not set: the jobs table is unknown")
    return DynamoJobStore(name, dynamodb())


@functools.cache
def key_store() -> DynamoKeyStore:
    """The gateway keys table (``KEYS_TABLE_NAME``; auth=key)."""
    name = settings.current().keys_table
    if not name:
        raise RuntimeError("KEYS_TABLE_NAME is not set: the keys table is unknown")
    return DynamoKeyStore(name, dynamodb())


@functools.cache
def result_storage() -> ResultStorage:
    """The results bucket (``RESULTS_BUCKET_NAME``)."""
    return ResultStorage(settings.current().results_bucket, client("s3", settings.store_budget()))


def prime(*builders: Any) -> None:
    """Build these resources now (e.g. ``job_store``, ``sqs``), so threads only ever share them."""
    for build in builders:
        build()


def reset() -> None:
    """Forget the built resources (tests that move endpoints or tables use this)."""
    job_store.cache_clear()
    key_store.cache_clear()
    result_storage.cache_clear()
