"""The AWS client factory: every client retries in botocore's standard mode, never adaptive."""

from __future__ import annotations

import json
import os

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


# ---- the session's data loader ----


def test_the_session_reads_its_data_through_the_gateways_loader():
    loader = clients.session().get_component("data_loader")
    assert isinstance(loader.file_loader, clients.PlainJSONFiles)
    assert {"bedrock", "dynamodb", "s3", "sqs", "sts", "sso"} <= set(
        clients.session().get_available_services()
    )


@pytest.mark.parametrize("service", ["sts", "sso", "sso-oidc", "signin"])
def test_the_credential_chains_own_clients_still_build(service):
    """botocore's credential providers (assume-role, web identity, SSO, login) create their clients
    through the same session, hence through its loader."""
    assert clients.session().create_client(service).meta.service_model.service_name == service


def test_an_assume_role_profile_gets_as_far_as_calling_sts(monkeypatch, tmp_path):
    """As `BEDROCK=aws make run` meets it with a role profile: the STS client builds and is called
    (here at a closed port), where a loader that knew only the gateway's services refused it."""
    from botocore.exceptions import EndpointConnectionError

    config = tmp_path / "config"
    config.write_text(
        "[profile base]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
        "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/gateway\nsource_profile = base\n"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "role")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    clients.reset()
    with pytest.raises(EndpointConnectionError):
        clients.session().get_credentials().get_frozen_credentials()


def test_an_unknown_service_is_refused_by_name():
    from botocore.exceptions import UnknownServiceError

    with pytest.raises(UnknownServiceError, match="no-such-service"):
        clients.client("no-such-service")


def test_a_service_directory_without_a_model_fails_as_before(monkeypatch, tmp_path):
    """Listed by its directory alone, it fails when its model is looked for: DataNotFoundError, of which
    the UnknownServiceError botocore's own loader raised is a kind."""
    from botocore.exceptions import DataNotFoundError

    (tmp_path / "half-a-service" / "2020-01-01").mkdir(parents=True)
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    clients.reset()
    assert "half-a-service" in clients.session().get_available_services()
    with pytest.raises(DataNotFoundError):
        clients.client("half-a-service")


def test_a_first_client_looks_into_no_other_services_directory(monkeypatch):
    """botocore's own loader looks into every one of its ~440 service directories, twice, on a
    session's first client: about 20 ms of every cold start."""
    import botocore

    data_root = os.path.normpath(os.path.join(os.path.dirname(botocore.__file__), "data"))
    listed = []
    real_listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path=".": listed.append(os.fspath(path)) or real_listdir(path))
    clients.client("dynamodb")
    assert listed, "the loader was not used"
    services_looked_into = {
        os.path.basename(os.path.normpath(path))
        for path in listed
        if os.path.dirname(os.path.normpath(path)) == data_root
    }
    assert services_looked_into == {"dynamodb"}


@pytest.mark.parametrize(
    "name", ["endpoints", "partitions", "sdk-default-configuration", "dynamodb/2012-08-10/service-2"]
)
def test_plain_json_files_read_what_botocores_loader_reads(name):
    """The same data, in the same order, as plain dicts (``.json`` and ``.json.gz`` files alike)."""
    import botocore
    from botocore.loaders import JSONFileLoader

    path = os.path.join(os.path.dirname(botocore.__file__), "data", name)
    ours = clients.PlainJSONFiles().load_file(path)
    theirs = JSONFileLoader().load_file(path)
    assert ours == theirs
    assert json.dumps(ours) == json.dumps(theirs)  # key order too
    assert type(ours) is dict
    assert clients.PlainJSONFiles().exists(path)
    assert not clients.PlainJSONFiles().exists(path + "-missing")
    assert clients.PlainJSONFiles().load_file(path + "-missing") is None


def test_aws_data_path_still_comes_first(monkeypatch, tmp_path):
    """A model in ``AWS_DATA_PATH`` overrides botocore's own, as with botocore's loader."""
    import botocore
    from botocore.loaders import JSONFileLoader

    shipped = os.path.join(os.path.dirname(botocore.__file__), "data", "sqs")
    version = sorted(os.listdir(shipped))[-1]
    model = JSONFileLoader().load_file(os.path.join(shipped, version, "service-2"))
    model["metadata"]["serviceFullName"] = "SQS from AWS_DATA_PATH"
    (tmp_path / "sqs" / version).mkdir(parents=True)
    (tmp_path / "sqs" / version / "service-2.json").write_text(json.dumps(model))
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    clients.reset()
    assert clients.client("sqs").meta.service_model.metadata["serviceFullName"] == "SQS from AWS_DATA_PATH"
