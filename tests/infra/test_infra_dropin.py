"""AWS SDKs through the gateway: the Bedrock-compatible /model routes take gateway keys in every auth
mode, the stack says where SDKs point, and API Gateway's own errors parse as Bedrock's in botocore."""

from __future__ import annotations

import json

import boto3
import pytest
from aws_cdk.assertions import Match
from bedrock_gateway.edge import routes as route_table
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from devstack.apigw import error_response
from infra_helpers import AUTH_CONTEXTS, REGION, resolve
from test_infra_template import routes

MODEL_ROUTES = {(r.method, p) for r in route_table.ROUTES if r.auth == route_table.KEY_AUTH for p in r.paths}
GATEWAY_KEY = "bgk_" + "k" * 43
#: What each /v1 method carries in each mode: (AuthorizationType, ApiKeyRequired).
V1_AUTH = {
    "iam": ("AWS_IAM", False),
    "key": ("CUSTOM", True),
    "apiKey": ("NONE", True),
    "none": ("NONE", False),
}
#: API Gateway's status for each response type it answers itself (its "Gateway response types" table),
#: and a message it sends with it (ours where the template sets its own: the two route_table messages).
GATEWAY_ANSWERS = {
    "THROTTLED": (429, "Too Many Requests"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded"),
    "UNAUTHORIZED": (401, route_table.KEY_REQUIRED_MESSAGE),
    "ACCESS_DENIED": (403, "User is not authorized to access this resource"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    "BAD_REQUEST_BODY": (400, 'Invalid request body: "modelId" is "quoted"'),
    "BAD_REQUEST_PARAMETERS": (400, "Missing required request parameters: [modelId]"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
    "DEFAULT_4XX": (403, "Missing Authentication Token"),
    "DEFAULT_5XX": (500, "Internal server error"),
    # A method and path the API lacks (or, with auth=iam, an unsigned request): the default synth's.
    "MISSING_AUTHENTICATION_TOKEN": (403, route_table.UNSIGNED_MESSAGE),
}
#: The error type of a gateway response that no Bedrock Runtime operation models.
UNMODELED_ERROR_TYPES = {"MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException"}
#: The Bedrock Runtime exception botocore must raise for each.
SDK_EXCEPTIONS = {
    "THROTTLED": "ThrottlingException",
    "QUOTA_EXCEEDED": "ServiceQuotaExceededException",
    "UNAUTHORIZED": "AccessDeniedException",
    "ACCESS_DENIED": "AccessDeniedException",
    "REQUEST_TOO_LARGE": "ValidationException",
    "BAD_REQUEST_BODY": "ValidationException",
    "BAD_REQUEST_PARAMETERS": "ValidationException",
}


@pytest.fixture(scope="module", params=sorted(AUTH_CONTEXTS))
def mode(request, synthesize):
    """(auth mode, its synth): the same contexts the other infra tests synthesize."""
    return request.param, synthesize(**AUTH_CONTEXTS[request.param])


def test_the_route_table_marks_exactly_the_bedrock_routes_for_gateway_keys():
    assert MODEL_ROUTES == {
        ("POST", f"/model/{model_id}/{operation}")
        for model_id in ("{modelId}", "{modelId}/{modelIdTail}")  # an ARN's '/' as a separator
        for operation in (
            "invoke",
            "invoke-with-response-stream",
            "converse",
            "converse-stream",
            "count-tokens",
        )
    }


def test_model_routes_take_gateway_keys_in_every_auth_mode(mode):
    auth, synth = mode
    authorizer = {"Ref": synth.logical_id(synth.stack.key_auth.authorizer)}
    found = routes(synth)
    for route in MODEL_ROUTES:
        method = found[route]
        assert method["AuthorizationType"] == "CUSTOM", route
        assert method["AuthorizerId"] == authorizer, route
        # apiKey mode reads plan keys from x-api-key, which SDKs do not send: no per-key plan there.
        assert method.get("ApiKeyRequired", False) is (auth != "apiKey"), route
    source = "HEADER" if auth == "apiKey" else "AUTHORIZER"
    synth.template.has_resource_properties("AWS::ApiGateway::RestApi", {"ApiKeySourceType": source})


def test_v1_routes_keep_their_auth_mode(mode):
    auth, synth = mode
    v1 = {route: method for route, method in routes(synth).items() if route not in MODEL_ROUTES}
    assert v1 and all(path.startswith("/v1/") for _, path in v1)
    for route, method in v1.items():
        assert (method["AuthorizationType"], bool(method.get("ApiKeyRequired"))) == V1_AUTH[auth], route
        assert ("AuthorizerId" in method) is (auth == "key"), route


def test_every_mode_has_the_keys_table_the_authorizer_and_their_outputs(mode):
    auth, synth = mode
    authorizer = synth.one("AWS::ApiGateway::Authorizer")["Properties"]
    assert authorizer["Type"] == "TOKEN"
    assert authorizer["IdentitySource"] == "method.request.header.Authorization"
    outputs = synth.data["Outputs"]
    assert outputs["KeysTableName"]["Value"] == {
        "Ref": synth.logical_id(synth.stack.key_auth.keys_table.table)
    }
    if auth == "apiKey":
        assert "UsagePlanId" not in outputs  # make keys then issues keys without a plan key
        return
    plan = synth.logical_id(synth.stack.key_usage_plan)
    assert outputs["UsagePlanId"]["Value"] == {"Ref": plan}
    synth.template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {"Description": "Per gateway key: rate, burst and daily quota", "ApiStages": [Match.any_value()]},
    )


def test_bedrock_runtime_endpoint_is_the_stage_url_an_sdk_appends_model_paths_to(mode, monkeypatch):
    auth, synth = mode
    output = synth.data["Outputs"]["BedrockRuntimeEndpoint"]
    assert "AWS_ENDPOINT_URL_BEDROCK_RUNTIME" in output["Description"]
    assert "AWS_BEARER_TOKEN_BEDROCK" in output["Description"]
    assert "make keys ARGS='create --stack <stack> --tenant <team>'" in output["Description"]
    stage = AUTH_CONTEXTS[auth].get("stage", "dev")
    separator, parts = resolve(output["Value"])["Fn::Join"]
    # What the description says to do, with what CloudFormation resolves the references to: a
    # deployed API's id, and the stage's name (a Stage's Ref).
    deployed = {
        json.dumps({"Ref": synth.logical_id(synth.stack.api.api)}): "abc123defg",
        json.dumps({"Ref": synth.logical_id(synth.stack.api.api.deployment_stage)}): stage,
    }
    endpoint = separator.join(part if isinstance(part, str) else deployed[json.dumps(part)] for part in parts)
    assert endpoint == f"https://abc123defg.execute-api.{REGION}.amazonaws.com/{stage}"

    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", endpoint)
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", GATEWAY_KEY)
    sent = []
    client = sdk_client(sent, 200, {}, b'{"inputTokens": 3}', endpoint_url=None)
    client.count_tokens(modelId="claude", input={"converse": {"messages": []}})
    (request,) = sent
    assert (
        request.url
        == f"https://abc123defg.execute-api.{REGION}.amazonaws.com/{stage}/model/claude/count-tokens"
    )
    assert request.headers["Authorization"] == f"Bearer {GATEWAY_KEY}".encode()


@pytest.fixture(scope="module")
def gateway_responses(default_synth) -> dict[str, dict]:
    """The template's gateway responses by type (the same in every mode)."""
    return {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in default_synth.resources("AWS::ApiGateway::GatewayResponse").values()
    }


def test_every_gateway_response_is_covered(gateway_responses):
    assert set(gateway_responses) == set(GATEWAY_ANSWERS)


@pytest.mark.parametrize("response_type", sorted(GATEWAY_ANSWERS))
def test_gateway_errors_keep_the_gateway_shape_and_add_the_sdk_message(gateway_responses, response_type):
    status, message = GATEWAY_ANSWERS[response_type]
    _, headers, body = rendered(gateway_responses[response_type], response_type, message, "req-1")
    document = json.loads(body)
    assert document["message"] == message == document["error"]["message"]
    assert document["error"]["requestId"] == "req-1"
    expected = SDK_EXCEPTIONS.get(response_type) or UNMODELED_ERROR_TYPES.get(response_type)
    assert headers.get("x-amzn-ErrorType") == expected
    assert int(gateway_responses[response_type].get("StatusCode", status)) == status


@pytest.mark.parametrize("response_type", sorted(SDK_EXCEPTIONS))
@pytest.mark.parametrize("operation", ["invoke_model", "converse", "converse_stream"])
def test_botocore_raises_bedrocks_modeled_exception_for_gateway_errors(
    gateway_responses, response_type, operation, monkeypatch
):
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", GATEWAY_KEY)
    status, message = GATEWAY_ANSWERS[response_type]
    _, headers, body = rendered(gateway_responses[response_type], response_type, message, "req-2")
    attempts = []
    client = sdk_client(attempts, status, headers, body)
    exception = SDK_EXCEPTIONS[response_type]
    call = {
        "invoke_model": lambda: client.invoke_model(modelId="claude", body=b"{}"),
        "converse": lambda: client.converse(modelId="claude", messages=[]),
        "converse_stream": lambda: client.converse_stream(modelId="claude", messages=[]),
    }[operation]
    with pytest.raises(getattr(client.exceptions, exception)) as raised:
        call()
    assert raised.value.response["Error"] == {"Code": exception, "Message": message}
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    # SDKs back off and retry throttling (here: one retry allowed), never access or validation errors.
    # (A quota 429 is retried where the operation does not model ServiceQuotaExceededException.)
    if exception == "ThrottlingException":
        assert len(attempts) == 2
    elif exception != "ServiceQuotaExceededException":
        assert len(attempts) == 1


@pytest.mark.parametrize(
    "code",
    [
        "InvalidRequest",
        "PayloadTooLarge",  # the local stack answers 413 itself
        "TooManyRequests",
        "Unauthorized",  # and 401 for a missing or refused gateway key
        "AccessDenied",
        "QuotaExceeded",
        "IntegrationTimeout",
    ],
)
def test_the_local_stacks_gateway_errors_match_the_deployed_ones(gateway_responses, code):
    (response_type, props) = next(
        (t, p) for t, p in sorted(gateway_responses.items()) if f'"code":"{code}"' in template_of(p)
    )
    status, message = GATEWAY_ANSWERS[response_type]
    deployed_status, deployed_headers, deployed_body = rendered(props, response_type, message, "req-3")
    local_status, local_headers, local_body = error_response(status, code, message, "req-3")
    assert json.loads(local_body) == json.loads(deployed_body)
    local = {name.lower(): value for name, value in local_headers}
    assert local.get("x-amzn-errortype") == deployed_headers.get("x-amzn-ErrorType")
    assert local["content-type"] == deployed_headers["Content-Type"] == "application/json"


def test_a_method_and_path_no_route_has_is_404_like_the_local_stacks_answer(mode, monkeypatch):
    """API Gateway answers a request no resource matches itself, as "403 Missing Authentication Token",
    which with IAM auth also means an unsigned request (the default synth, above). In the other modes
    it can only be a wrong path or method: 404, the same answer the local stand-in gives, and an error
    SDKs raise by name."""
    auth, synth = mode
    (props,) = [
        r["Properties"]
        for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == "MISSING_AUTHENTICATION_TOKEN"
    ]
    if auth == "iam":
        assert props["StatusCode"] == "403" and '"code":"MissingAuthenticationToken"' in template_of(props)
        return
    assert props["StatusCode"] == "404"
    body = template_of(props).replace("$context.requestId", "req-4")
    _, local_headers, local_body = error_response(404, "NotFound", route_table.NO_ROUTE_MESSAGE, "req-4")
    assert json.loads(body) == json.loads(local_body)
    header = props["ResponseParameters"]["gatewayresponse.header.x-amzn-ErrorType"]
    assert header == f"'{route_table.NO_ROUTE_ERROR_TYPE}'" and (
        ("x-amzn-ErrorType", route_table.NO_ROUTE_ERROR_TYPE) in local_headers
    )
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", GATEWAY_KEY)
    client = sdk_client([], 404, {"x-amzn-ErrorType": header[1:-1]}, body.encode())
    with pytest.raises(client.exceptions.ClientError) as raised:
        client.invoke_model(modelId="claude", body=b"{}")
    assert raised.value.response["Error"] == {
        "Code": "UnknownOperationException",
        "Message": route_table.NO_ROUTE_MESSAGE,
    }


def template_of(props: dict) -> str:
    return props["ResponseTemplates"]["application/json"]


def rendered(props: dict, response_type: str, message: str, request_id: str) -> tuple[int, dict, bytes]:
    """The answer API Gateway sends for a gateway response: its static headers (quoted literals) and
    the template with the $context variables it uses (messageString is a quoted JSON string)."""
    status, _ = GATEWAY_ANSWERS[response_type]
    headers = {}
    for name, value in props.get("ResponseParameters", {}).items():
        assert value.startswith("'") and value.endswith("'"), (name, value)
        headers[name.removeprefix("gatewayresponse.header.")] = value[1:-1]
    body = (
        template_of(props)
        .replace("$context.error.messageString", json.dumps(message))
        .replace("$context.error.responseType", response_type)
        .replace("$context.requestId", request_id)
    )
    assert "$context" not in body
    return status, headers, body.encode()


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_):
        yield self.body


def sdk_client(
    sent: list, status: int, headers: dict, body: bytes, endpoint_url: str | None = "https://abc.example/dev"
):
    """A real bedrock-runtime client (one retry allowed) whose every request is recorded in ``sent``
    and answered with ``status``, ``headers`` and ``body`` instead of going to the network (botocore's
    before-send hook). ``endpoint_url=None``: the environment names the endpoint."""
    client = boto3.client(
        "bedrock-runtime",
        region_name=REGION,
        config=Config(retries={"mode": "standard", "total_max_attempts": 2}),
        **({"endpoint_url": endpoint_url} if endpoint_url else {}),
    )

    def respond(request, **_):
        sent.append(request)
        return AWSResponse(request.url, status, headers, _Raw(body))

    client.meta.events.register("before-send.bedrock-runtime", respond)
    return client
