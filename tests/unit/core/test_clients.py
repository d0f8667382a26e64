"""The AWS client factory: every client retries in botocore's standard mode, never adaptive."""

from __future__ import annotations

import pytest
from bedrock_gateway import settings
from bedrock_gateway.core import clients


@pytest.fixture(autouse=True)
def fresh_factory(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clients.reset()
    yield
    clients.reset()


BUDGETS = [value for name, value in vars(settings).items() if isinstance(value, clients.CallBudget)]


def test_the_settings_declare_budgets():
    assert len(BUDGETS) >= 3


@pytest.mark.parametrize("service", ["dynamodb", "s3", "sqs", "bedrock"])
@pytest.mark.parametrize("budget", [clients.DEFAULT_BUDGET, *BUDGETS])
def test_clients_use_standard_retries_with_the_budgets_attempts(service, budget):
    # adaptive mode's client-side rate limiter would delay every later, unrelated request of the
    # container after one throttled call (it did: first bytes of 1.8-4.1 s after three throttled streams).
    client = clients.client(service, budget)
    retries = client.meta.config.retries
    assert retries["mode"] == "standard"
    assert retries["total_max_attempts"] == budget.attempts
    assert client.meta.config.read_timeout == budget.read_timeout


def test_one_client_per_service_and_budget():
    assert clients.client("sqs") is clients.client("sqs")
    assert clients.client("sqs") is not clients.client("sqs", clients.CallBudget(read_timeout=1))


def test_clients_name_the_gateway_in_their_user_agent():
    """Clients come from botocore's own session, not boto3's: the user agent says which app made the
    call (CloudTrail's userAgent)."""
    client = clients.client("sqs")
    sent = {}

    def capture(request, **_):
        sent["user_agent"] = request.headers["User-Agent"].decode()
        raise RuntimeError("captured; not sent")

    client.meta.events.register("before-send.sqs.ListQueues", capture)
    with pytest.raises(RuntimeError, match="captured"):
        client.list_queues()
    assert f"app/{clients.USER_AGENT_APP_ID}" in sent["user_agent"]
