"""The HTTP API's OpenAPI 3.1 description, generated from the real routes: ``python -m bench.openapi``.

Paths and methods come from the route tables of the sync handler's resolver
(``bedrock_gateway.handlers.api.app``, jobs router included) and of the stream app
(``bedrock_gateway.handlers.stream_app.app``); every route found there is described. What a route
accepts and answers (bodies, statuses, headers) comes from :data:`CONTRACTS`, written from SPEC; a
route without an entry still gets a generic description, flagged ``x-generic-contract`` so a test
can insist that it gets a real one. The jobs body schema is the one the API itself validates with
(``core.jobs.JOB_SCHEMA``), and target names come from the targets config.

Powertools can emit a schema itself (``app.get_openapi_json_schema()``), but it needs pydantic and
knows nothing of the bodies (the handlers take raw bodies), so this module builds the document
without touching the Lambda's import path.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

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
    "prompt": "\n\nHuman: write an essay for living on mars in 1000 words\n\nAssistant:",
    "max_tokens_to_sample": 4000,
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


def _contracts(job_schema: dict) -> dict[tuple[str, str], dict]:
    """What each route accepts and answers, from SPEC's HTTP API table."""
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
        ("POST", "/v1/targets/{target}/invoke"): {
            "summary": "InvokeModel for a target; the model's response body unchanged",
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
        ("POST", "/v1/targets/{target}/stream"): {
            "summary": "InvokeModelWithResponseStream for a target: SSE (or NDJSON), one event per chunk",
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
        ("GET", "/v1/targets"): {
            "summary": "configured targets",
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
        ("GET", "/v1/health"): {
            "summary": "liveness, no Bedrock call",
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
        ("POST", "/v1/jobs"): {
            "summary": "enqueue an invocation job (the same jobId twice is one job)",
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
        ("GET", "/v1/jobs/{job_id}"): {
            "summary": "a job's status and result",
            "responses": {200: {"description": "the job", "content": {"application/json": {"schema": job}}}},
            "errors": (404, 500),
        },
    }


_GENERIC = {
    "summary": "(no contract written for this route yet)",
    "responses": {200: {"description": "success", "content": {"*/*": {"schema": {}}}}},
    "errors": (400, 404, 500),
}


def routes() -> list[tuple[str, str, str]]:
    """(method, OpenAPI path, front door) for every route of the sync resolver and the stream app.

    A route both apps serve (``/v1/health``) is listed once, for the sync handler: the API sends
    only the stream path to the stream function.
    """
    from bedrock_gateway.handlers import stream_app
    from bedrock_gateway.handlers.api import app

    found: dict[tuple[str, str], str] = {}
    for route in [*app._static_routes, *app._dynamic_routes]:
        path = re.sub(r"<(\w+)>", r"{\1}", route.path)
        found.setdefault((route.method.upper(), path), "sync")
    for route in stream_app.app.routes:
        path = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", getattr(route, "path", ""))
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                found.setdefault((method, path), "stream")
    return [
        (method, path, door)
        for (method, path), door in sorted(found.items(), key=lambda i: (i[0][1], i[0][0]))
    ]


def build(server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI document for every route, with SPEC's error shape on every error response."""
    from bedrock_gateway.core.jobs import JOB_SCHEMA
    from bedrock_gateway.core.targets import load_targets

    config = load_targets()
    names = sorted(config.targets)
    contracts = _contracts(copy.deepcopy(JOB_SCHEMA))
    paths: dict[str, dict] = {}
    for method, path, door in routes():
        contract = contracts.get((method, path))
        operation: dict[str, Any] = {
            "operationId": f"{method.lower()}_{re.sub(r'[^a-zA-Z0-9]+', '_', path).strip('_')}",
            "summary": (contract or _GENERIC)["summary"],
            "x-front-door": door,
        }
        if contract is None:
            contract = _GENERIC
            operation["x-generic-contract"] = True
        parameters = []
        for name in re.findall(r"\{(\w+)\}", path):
            if name == "target":
                schema = {"anyOf": [{"enum": names}, {"type": "string", "minLength": 1, "maxLength": 200}]}
                example = config.default_target or names[0]
            elif name in ("job_id", "jobId"):
                schema = {"type": "string", "minLength": 1, "maxLength": 128}
                example = "bench-job-1"
            else:
                schema, example = {"type": "string", "minLength": 1}, "x"
            parameters.append(
                {"name": name, "in": "path", "required": True, "schema": schema, "example": example}
            )
        if parameters:
            operation["parameters"] = parameters
        if "requestBody" in contract:
            operation["requestBody"] = copy.deepcopy(contract["requestBody"])
        responses = {str(status): copy.deepcopy(spec) for status, spec in contract["responses"].items()}
        for status in contract["errors"]:
            response: dict[str, Any] = {
                "description": _ERROR_TEXT.get(status, "error"),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
            if status in (429, 503):
                response["headers"] = copy.deepcopy(_RETRY_AFTER)
            responses[str(status)] = response
        operation["responses"] = responses
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Bedrock Gateway",
            "version": "1",
            "description": "Generated from the handlers' routes by bench/openapi.py (SPEC.md is the contract).",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.openapi", description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", help="write here instead of stdout")
    parser.add_argument("--server", default="/", help="the servers[0].url of the document")
    args = parser.parse_args(argv)
    text = json.dumps(build(args.server), indent=2) + "\n"
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
