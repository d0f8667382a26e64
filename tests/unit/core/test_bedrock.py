"""Error translation: every botocore failure lands in the shared taxonomy with the right transience."""

import os

import pytest
from bedrock_gateway.core.bedrock import translate
from bedrock_gateway.core.errors import ErrorCode
from botocore import exceptions as bex


def client_error(code: str, status: int) -> bex.ClientError:
    return bex.ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "InvokeModel",
    )


@pytest.mark.parametrize(
    "exc,code,transient",
    [
        (client_error("ThrottlingException", 429), ErrorCode.THROTTLING, True),
        (client_error("ValidationException", 400), ErrorCode.VALIDATION, False),
        (client_error("SomethingNew", 503), ErrorCode.INTERNAL_SERVER, True),
        (client_error("SlowDownNew", 429), ErrorCode.THROTTLING, True),
        (client_error("OddNew", 400), ErrorCode.INTERNAL, False),
        (bex.ReadTimeoutError(endpoint_url="u"), ErrorCode.MODEL_TIMEOUT, True),
        (bex.EndpointConnectionError(endpoint_url="u"), ErrorCode.BEDROCK_UNREACHABLE, True),
        (bex.ConnectionClosedError(endpoint_url="u"), ErrorCode.BEDROCK_UNREACHABLE, True),
        (bex.ResponseStreamingError(error="reset"), ErrorCode.BEDROCK_UNREACHABLE, True),
        (bex.SSLError(endpoint_url="u", error="x"), ErrorCode.BEDROCK_UNREACHABLE, True),
        (bex.ProxyConnectionError(proxy_url="p", error="x"), ErrorCode.BEDROCK_UNREACHABLE, True),
        (bex.IncompleteReadError(actual_bytes=1, expected_bytes=2), ErrorCode.BEDROCK_UNREACHABLE, True),
        (bex.NoCredentialsError(), ErrorCode.INTERNAL, False),
        (RuntimeError("x"), ErrorCode.INTERNAL, False),
    ],
)
def test_translate(exc, code, transient):
    error = translate(exc)
    assert (error.code, error.retryable) == (code, transient)


def test_mid_stream_exception_members_map_like_their_shapes():
    exc = bex.EventStreamError(
        {"Error": {"Code": "modelStreamErrorException", "Message": "m"}}, "InvokeModelWithResponseStream"
    )
    assert translate(exc).code is ErrorCode.MODEL_STREAM_ERROR


@pytest.mark.parametrize(
    "status,headers,body,code",
    [
        (
            429,
            {"x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/"},
            b'{"message":"m"}',
            ErrorCode.THROTTLING,
        ),
        (400, {}, b'{"__type":"com.amazon.bedrock#ValidationException","message":"m"}', ErrorCode.VALIDATION),
        (424, {"x-amzn-errortype": "ModelErrorException"}, b"not json", ErrorCode.MODEL_ERROR),
        (503, {}, b"", ErrorCode.INTERNAL_SERVER),  # unmodeled, but a 5xx: a retry may help
        (429, {}, b"[]", ErrorCode.THROTTLING),
        (418, {"x-amzn-errortype": "Teapot"}, b"{}", ErrorCode.INTERNAL),
    ],
)
def test_bedrock_error_answers_on_the_wire(status, headers, body, code):
    from bedrock_gateway.core.bedrock.runtime import _error

    assert _error(status, headers, body).code is code


def test_the_endpoint_follows_boto3s_variables(monkeypatch):
    from bedrock_gateway.core.bedrock.runtime import _endpoint

    for name in ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL", "AWS_USE_FIPS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert _endpoint("eu-west-1") == "https://bedrock-runtime.eu-west-1.amazonaws.com"
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    assert _endpoint("us-east-1") == "https://bedrock-runtime-fips.us-east-1.amazonaws.com"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://shared:1/")
    assert _endpoint("us-east-1") == "http://shared:1"
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://runtime:2")
    assert _endpoint("us-east-1") == "http://runtime:2"


def test_callers_bedrock_headers_pass_and_target_options_win():
    from bedrock_gateway.core.bedrock.invoke import request_headers
    from bedrock_gateway.core.targets import parse_targets

    config = parse_targets('[targets.a]\nmodel = "amazon.nova-pro-v1:0"\nservice_tier = "priority"\n')
    headers = request_headers(
        config.targets["a"],
        {
            "X-Amzn-Bedrock-Service-Tier": "flex",
            "x-amzn-bedrock-trace": "ENABLED",
            "Authorization": "Bearer x",
        },
    )
    assert headers == {
        "content-type": "application/json",
        "accept": "application/json",
        "x-amzn-bedrock-service-tier": "priority",
        "x-amzn-bedrock-trace": "ENABLED",
    }


def test_runtime_calls_disable_nagle_as_boto3_does(monkeypatch):
    """Without TCP_NODELAY a request's body waits for a delayed ACK: ~40 ms on every call (make bench's
    sync overhead at zero model latency shows it; this guards the setting itself)."""
    import socket

    from bedrock_gateway.core import clients
    from bedrock_gateway.core.bedrock.runtime import RuntimeClient

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # Credentials at hand, so the chain never asks the instance metadata service (169.254.169.254).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    clients.reset()
    try:
        client = RuntimeClient(clients.CallBudget(read_timeout=5))
        assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) in client._http._socket_options
    finally:
        clients.reset()


@pytest.mark.parametrize(
    ("environment", "builds_a_session"),
    [
        ({"AWS_LAMBDA_FUNCTION_NAME": "fn", "AWS_SESSION_TOKEN": "env-token"}, False),  # Lambda
        ({"AWS_SESSION_TOKEN": "env-token"}, True),  # elsewhere: the full chain (profiles, SSO, ...)
        # SnapStart: no keys in the environment (container credentials), so the full chain.
        ({"AWS_LAMBDA_FUNCTION_NAME": "fn", "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}, True),
        (
            {"AWS_LAMBDA_FUNCTION_NAME": "fn", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/"},
            True,
        ),
        ({"AWS_LAMBDA_FUNCTION_NAME": "fn"}, True),  # keys without the role's session token
    ],
)
def test_in_lambda_the_data_plane_signs_with_the_environments_keys_and_builds_no_session(
    monkeypatch, tmp_path, environment, builds_a_session
):
    from bedrock_gateway.core import clients
    from bedrock_gateway.core.bedrock.runtime import RuntimeClient

    for name in ("AWS_LAMBDA_FUNCTION_NAME", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # Lambda sets both (the same); botocore reads this one
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    for name, value in environment.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    # Where the full chain finds credentials when the environment has none (a file here: no network).
    (tmp_path / "credentials").write_text(
        "[default]\naws_access_key_id = file-key\naws_secret_access_key = file-secret\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    clients.reset()
    try:
        client = RuntimeClient(clients.CallBudget(read_timeout=5))
        assert client.region == "eu-west-1"
        assert (clients._session is not None) is builds_a_session
        frozen = client._credentials.get_frozen_credentials()
        expected = "env-key" if "AWS_ACCESS_KEY_ID" in os.environ else "file-key"
        assert frozen.access_key == expected
    finally:
        clients.reset()
