"""Fixtures for the Bedrock emulator's tests: one emulator per session, reset before every test."""

from __future__ import annotations

from datetime import date

import pytest
from bedrock_emulator import Emulator
from bedrock_gateway.core import catalog
from emulator_helpers import make_client

# Lifecycle (Active/Legacy/EOL) is judged as of the day the catalog was checked, so that these tests
# do not change verdict when a Legacy model reaches its EOL date.
AS_OF = date.fromisoformat(catalog.as_of())


@pytest.fixture(scope="session")
def emulator():
    with Emulator(port=0, lifecycle_date=AS_OF) as emu:
        yield emu


@pytest.fixture(autouse=True)
def _fresh_emulator(emulator):
    emulator.reset()
    emulator.set_lifecycle_date(AS_OF)
    yield


@pytest.fixture(scope="session")
def runtime(emulator):
    """A ``bedrock-runtime`` client on the emulator (us-east-1, no retries)."""
    return make_client("bedrock-runtime", emulator.url)


@pytest.fixture(scope="session")
def bedrock(emulator):
    """A ``bedrock`` (control plane) client on the emulator (us-east-1, no retries)."""
    return make_client("bedrock", emulator.url)
