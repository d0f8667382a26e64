"""The HTTP API's OpenAPI 3.1 document, generated from the route table; served at ``GET /v1/openapi.json``.

Paths, methods and summaries come from :data:`bedrock_gateway.edge.routes.ROUTES`; what each route
accepts and answers (bodies, statuses, headers) from :func:`_contracts`, keyed by route name; every
error response has the JSON error shape. The jobs body schema is the one the API validates with
(``JOB_SCHEMA``), and target names come from the targets config. A test insists that every route
has a contract and that the document lists exactly the routes the handlers and the CDK stack serve.

Powertools can emit a schema itself, but it needs pydantic and knows nothing of the bodies (the
handlers take raw bodies), so this module builds the document from the table instead.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from bedrock_gateway.edge.routes import ARN_PARAMETERS, ROUTES

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "requestId"],
            "properties": {
                "code": {"type": "string", "minLength": 1},
                "message": {"type": "string"},
                "requestId": {"type": ["string", "null"]},
            },
        }
    },
}
REFERENCE_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "write an essay for living on mars in 1000 words"}],
}
_ERROR_TEXT = {
    400: "body not JSON, wrong shape, or Bedrock ValidationException",
    403: "raw model ID while allow_raw_model_ids = false",
    404: "unknown target or job",
    409: "the same jobId with a different target or body",
    413: "body over the configured limit",
    429: "ThrottlingException or ServiceQuotaExceededException (see Retry-After)",
    500: "anything unexpected (never a stack trace)",
    502: "ModelErrorException, AccessDeniedException, ResourceNotFoundException from Bedrock",
    503: "ModelNotReadyException, ServiceUnavailableException (see Retry-After)",
    504: "ModelTimeoutException",
}
_RETRY_AFTER = {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": r"^\d+$"}}}
# OpenAPI 3.1: the ``schema`` of an event stream describes each event.
_SSE_EVENT = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {"event": {"enum": ["chunk", "done", "error"]}, "data": {"type": "string"}},
}
_INVOKE_ERRORS = (400, 403, 404, 413, 429, 500, 502, 503, 504)
CONVERSE_BODY = {
    "messages": [{"role": "user", "content": [{"text": "write an essay for living on mars in 1000 words"}]}],
    "inferenceConfig": {"maxTokens": 1024},
}
_CONVERSE_EVENTS = [
    "messageStart",
    "contentBlockStart",
    "contentBlockDelta",
    "contentBlockStop",
    "messageStop",
    "metadata",
]
#: The Bedrock-compatible routes answer errors as Bedrock does: ``{"message"}`` and ``x-amzn-ErrorType``.
BEDROCK_ERROR_SCHEMA = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}},
}
_BEDROCK_ERRORS = (400, 401, 403, 404, 408, 424, 429, 500, 503)
_BEDROCK_ERROR_TEXT = {
    400: "ValidationException (a bad body, an unknown model ID or target) or ServiceQuotaExceededException",
    401: "no gateway key, or not a valid one (API Gateway answers: AccessDeniedException)",
    403: "AccessDeniedException (the key may not use this target, or raw model IDs are off)",
    404: "ResourceNotFoundException, or UnknownOperationException for a path Bedrock does not have",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException or ModelNotReadyException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def _string_header(required: bool = True) -> dict:
    return {"required": required, "schema": {"type": "string"}}


def _model_body(description: str) -> dict:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "description": description},
                "example": REFERENCE_BODY,
            }
        },
    }


def _json_body(description: str, example: dict) -> dict:
    return {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object", "description": description}, "example": example}
        },
    }


_GATEWAY_FIGURES = {
    "X-Target": _string_header(),
    "X-Model-Id": _string_header(False),
    "X-Bedrock-Latency-Ms": _string_header(False),
    "X-Bedrock-Input-Tokens": _string_header(False),
    "X-Bedrock-Output-Tokens": _string_header(False),
}
_CONVERSE_ANSWER = {
    "type": "object",
    "required": ["output", "stopReason", "usage"],
    "properties": {
        "output": {"type": "object"},
        "stopReason": {"type": "string"},
        "usage": {"type": "object"},
    },
}
_EVENT_STREAM = {"application/vnd.amazon.eventstream": {"schema": {"type": "string", "format": "binary"}}}


def _bedrock_contracts() -> dict[str, dict]:
    """Bedrock Runtime's own operations (botocore's ``bedrock-runtime`` model is their full contract)."""
    model_body = _json_body(
        "the model's native JSON body (or a text-completion body, for targets that take it)", REFERENCE_BODY
    )
    converse_body = _json_body("a Converse request", CONVERSE_BODY)
    stream_headers = {"X-Amzn-Bedrock-Content-Type": _string_header()}
    return {
        "bedrock_invoke": {
            "requestBody": model_body,
            "responses": {
                200: {
                    "description": "the model's response body",
                    "content": {"application/json": {"schema": {}}},
                }
            },
        },
        "bedrock_invoke_stream": {
            "requestBody": model_body,
            "responses": {
                200: {"description": "chunk events", "content": _EVENT_STREAM, "headers": stream_headers}
            },
        },
        "bedrock_converse": {
            "requestBody": converse_body,
            "responses": {
                200: {
                    "description": "the Converse answer",
                    "content": {"application/json": {"schema": _CONVERSE_ANSWER}},
                }
            },
        },
        "bedrock_converse_stream": {
            "requestBody": converse_body,
            "responses": {200: {"description": "Converse stream events", "content": _EVENT_STREAM}},
        },
        "bedrock_count_tokens": {
            "requestBody": _json_body(
                "a CountTokens request", {"input": {"converse": {"messages": CONVERSE_BODY["messages"]}}}
            ),
            "responses": {
                200: {
                    "description": "the input's token count",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["inputTokens"],
                                "properties": {"inputTokens": {"type": "integer"}},
                            }
                        }
                    },
                }
            },
        },
    }


def _contracts(job_schema: dict) -> dict[str, dict]:
    """What each route accepts and answers, by route name (see ``docs/api.md``)."""
    job = {
        "type": "object",
        "required": ["jobId", "status"],
        "properties": {
            "jobId": {"type": "string"},
            "status": {"enum": ["queued", "running", "succeeded", "failed"]},
            "target": {"type": "string"},
            "attempts": {"type": "integer"},
            "result": {},
            "resultUrl": {"type": "string"},
            "error": {"type": "object"},
            "usage": {"type": "object"},
        },
    }
    return {
        "invoke": {
            "requestBody": _model_body("the model's native JSON body; target defaults are merged under it"),
            "responses": {
                200: {
                    "description": "the model's response body",
                    "content": {"application/json": {"schema": {}}},
                    "headers": {
                        "X-Target": _string_header(),
                        "X-Model-Id": _string_header(),
                        "X-Bedrock-Latency-Ms": _string_header(),
                        "X-Bedrock-Input-Tokens": _string_header(False),
                        "X-Bedrock-Output-Tokens": _string_header(False),
                    },
                }
            },
            "errors": _INVOKE_ERRORS,
        },
        "stream": {
            "requestBody": _model_body("the model's native JSON body; target defaults are merged under it"),
            "responses": {
                200: {
                    "description": "event: chunk per Bedrock chunk, then event: done (or error)",
                    "content": {"text/event-stream": {"schema": _SSE_EVENT}, "application/x-ndjson": {}},
                    "headers": {"X-Target": _string_header(), "X-Model-Id": _string_header()},
                }
            },
            "errors": _INVOKE_ERRORS,
        },
        "converse": {
            "requestBody": _json_body(
                "a Converse request; the target's guardrail and tier are set", CONVERSE_BODY
            ),
            "responses": {
                200: {
                    "description": "the Converse answer",
                    "content": {"application/json": {"schema": _CONVERSE_ANSWER}},
                    "headers": _GATEWAY_FIGURES,
                }
            },
            "errors": _INVOKE_ERRORS,
        },
        "converse_stream": {
            "requestBody": _json_body(
                "a Converse request; the target's guardrail and tier are set", CONVERSE_BODY
            ),
            "responses": {
                200: {
                    "description": "one event per Converse stream event, then event: done (or error)",
                    "content": {
                        "text/event-stream": {
                            "schema": {
                                **_SSE_EVENT,
                                "properties": {
                                    "event": {"enum": [*_CONVERSE_EVENTS, "done", "error"]},
                                    "data": {"type": "string"},
                                },
                            }
                        },
                        "application/x-ndjson": {},
                    },
                    "headers": {"X-Target": _string_header(), "X-Model-Id": _string_header(False)},
                }
            },
            "errors": _INVOKE_ERRORS,
        },
        "list_targets": {
            "responses": {
                200: {
                    "description": "targets",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["defaultTarget", "targets"],
                                "properties": {
                                    "defaultTarget": {"type": ["string", "null"]},
                                    "targets": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["name", "kind", "model", "streaming", "default"],
                                            "properties": {
                                                "name": {"type": "string"},
                                                "kind": {"type": "string"},
                                                "model": {"type": "string"},
                                                "streaming": {"type": ["boolean", "null"]},
                                                "default": {"type": "boolean"},
                                            },
                                        },
                                    },
                                },
                            }
                        }
                    },
                }
            },
            "errors": (500,),
        },
        "health": {
            "responses": {
                200: {
                    "description": "ok",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["status"],
                                "properties": {"status": {"const": "ok"}},
                            }
                        }
                    },
                }
            },
            "errors": (500,),
        },
        "create_job": {
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": job_schema,
                        "example": {"target": "claude", "body": REFERENCE_BODY},
                    }
                },
            },
            "responses": {
                202: {
                    "description": "queued",
                    "headers": {"Location": _string_header()},
                    "content": {"application/json": {"schema": job}},
                },
                200: {
                    "description": "that jobId already exists (same target and body)",
                    "headers": {"Location": _string_header()},
                    "content": {"application/json": {"schema": job}},
                },
            },
            "errors": (400, 403, 404, 409, 413, 500, 503),
        },
        "get_job": {
            "responses": {200: {"description": "the job", "content": {"application/json": {"schema": job}}}},
            "errors": (404, 500),
        },
        "get_job_result": {
            "responses": {
                200: {"description": "the model's response", "content": {"application/json": {"schema": {}}}},
                302: {
                    "description": "a result too large for a Lambda response: a presigned URL valid 5 minutes"
                },
            },
            "errors": (404, 500),
        },
        "openapi": {
            "responses": {
                200: {
                    "description": "this document",
                    "content": {
                        "application/json": {"schema": {"type": "object", "required": ["openapi", "paths"]}}
                    },
                }
            },
            "errors": (500,),
        },
        **_bedrock_contracts(),
    }


def build(
    server_url: str = "/", target_names: list[str] | None = None, default_target: str | None = None
) -> dict:
    """The OpenAPI document for every route of the table."""
    from bedrock_gateway.core.jobs.contract import JOB_SCHEMA

    names = sorted(target_names or [])
    contracts = _contracts(copy.deepcopy(JOB_SCHEMA))
    paths: dict[str, dict] = {}
    for route in ROUTES:
        contract = contracts[route.name]
        operation: dict[str, Any] = {
            "operationId": route.name,
            "summary": route.summary,
            "x-front-door": route.door,
        }
        parameters = [_parameter(name, names, default_target) for name in route.parameters]
        if parameters:
            operation["parameters"] = parameters
        if "requestBody" in contract:
            operation["requestBody"] = copy.deepcopy(contract["requestBody"])
        responses = {str(status): copy.deepcopy(spec) for status, spec in contract["responses"].items()}
        if route.bedrock_wire:
            operation["security"] = [{"gatewayKey": []}]
            for status in _BEDROCK_ERRORS:
                responses[str(status)] = {
                    "description": _BEDROCK_ERROR_TEXT[status],
                    "headers": {"x-amzn-ErrorType": _string_header()},
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/BedrockError"}}
                    },
                }
        for status in contract.get("errors", ()):
            response: dict[str, Any] = {
                "description": _ERROR_TEXT.get(status, "error"),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
            if status in (429, 503):
                response["headers"] = copy.deepcopy(_RETRY_AFTER)
            responses[str(status)] = response
        operation["responses"] = responses
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Bedrock Gateway",
            "version": "1",
            "description": "Generated from the gateway's route table. The contract is docs/api.md in the repository.",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, "BedrockError": BEDROCK_ERROR_SCHEMA},
            "securitySchemes": {
                "gatewayKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a gateway key (what AWS SDKs send from AWS_BEARER_TOKEN_BEDROCK)",
                }
            },
        },
    }


def _parameter(name: str, target_names: list[str], default_target: str | None) -> dict[str, Any]:
    if name == "target":
        schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 2048}
        if target_names:
            schema = {"anyOf": [{"enum": target_names}, schema]}
        example = default_target or (target_names[0] if target_names else "claude")
    elif name == "modelId":
        schema = {"type": "string", "minLength": 1, "maxLength": 2048}
        if target_names:
            schema = {"anyOf": [{"enum": target_names}, schema]}
        example = default_target or (target_names[0] if target_names else "claude")
    elif name == "jobId":
        schema, example = {"type": "string", "minLength": 1, "maxLength": 128}, "bench-job-1"
    else:
        schema, example = {"type": "string", "minLength": 1}, "x"
    parameter = {"name": name, "in": "path", "required": True, "schema": schema, "example": example}
    if name in ARN_PARAMETERS:
        parameter["description"] = (
            "a target name or alias, or (where allowed) a model ID or ARN; an ARN's '/' may be sent "
            "percent-encoded or as it is (the route is also served with the ARN over two path segments)"
        )
    return parameter


@functools.cache
def document() -> dict:
    """The document this container serves (its targets as the ``target`` parameter's examples)."""
    from bedrock_gateway import settings

    config = settings.targets()
    return build(target_names=list(config.targets), default_target=config.default_target)
