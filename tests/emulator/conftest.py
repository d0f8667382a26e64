"""Fixtures for the Bedrock emulator's tests: one emulator per session, reset before every test."""

from __future__ import annotations

import pytest
from bedrock_emulator import Emulator
from emulator_helpers import make_client


@pytest.fixture(scope="session")
def emulator():
    with Emulator(port=0) as emu:
        yield emu


@pytest.fixture(autouse=True)
def _fresh_emulator(emulator):
    emulator.reset()
    yield


@pytest.fixture(scope="session")
def runtime(emulator):
    """A ``bedrock-runtime`` client on the emulator (us-east-1, no retries)."""
    return make_client("bedrock-runtime", emulator.url)


@pytest.fixture(scope="session")
def bedrock(emulator):
    """A ``bedrock`` (control plane) client on the emulator (us-east-1, no retries)."""
    return make_client("bedrock", emulator.url)
