"""``make fuzz``: schemathesis against the local stack's HTTP API, from its generated OpenAPI document.

Starts the local stack (``DevStack``: the real sync handler behind the API Gateway proxy adapter,
the stream app, SQS + worker, the Bedrock emulator), saves the document the API serves at
``GET /v1/openapi.json`` to ``.bench/openapi.json``, and runs schemathesis over HTTP with a fixed
seed and a bounded number of examples per operation. Passes only with zero 5xx responses and every
error in the documented JSON shape (plus schemathesis' own conformance checks). Prints one summary line, e.g.::

    fuzz: 6 operations (48 method/path pairs tried), 1234 requests, statuses {...}, 5xx=0, bad_error_bodies=0, ... -> OK
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from bedrock_gateway.core.bedrock.runtime import OPERATIONS

from bench.common import BENCH_DIR, REPO, StackOutput, child_env

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "spec_error_shape",
)


_STACK_TRACE = re.compile(r'Traceback \(most recent call last\)|File "[^"]+", line \d+')


def error_shape_problem(
    status: int,
    content_type: str,
    body: bytes,
    retry_after: str | None = None,
    *,
    path: str = "",
    error_type: str | None = None,
) -> str | None:
    """What is wrong with an error response by the documented rules, or None (also None for non-errors).

    On ``/model/...`` (Bedrock's wire) an error is Bedrock's: ``{"message"}`` and ``x-amzn-ErrorType``.
    API Gateway's own answers (401, throttling) carry both shapes, so either door's clients read them.
    """
    if status < 400:
        return None
    if "json" not in (content_type or "").lower():
        return f"content type {content_type or '(none)'!r} is not JSON"
    try:
        document = json.loads(body)
    except ValueError:
        return "body is not JSON"
    if not isinstance(document, dict):
        return "body is not a JSON object"
    if path.startswith("/model/"):
        if not isinstance(document.get("message"), str):
            return 'body is not Bedrock\'s {"message": ...}'
        if not (error_type or "").strip():
            return "no x-amzn-ErrorType header"
        if _STACK_TRACE.search(document["message"]):
            return "message carries a stack trace"
        return None
    error = document.get("error")
    if not isinstance(error, dict) or not set(document) <= {"error", "message"}:
        return 'body is not {"error": {...}}'
    if not isinstance(error.get("code"), str) or not error["code"]:
        return "error.code missing or not a string"
    if not isinstance(error.get("message"), str):
        return "error.message missing or not a string"
    if "requestId" not in error or not (error["requestId"] is None or isinstance(error["requestId"], str)):
        return "error.requestId missing"
    if _STACK_TRACE.search(error["message"]):
        return "error.message carries a stack trace"
    if status in (429, 503) and not (retry_after or "").strip().isdigit():
        return f"{status} without a Retry-After header"
    return None


_MESSAGES = b'{"messages": [{"role": "user", "content": "hi"}]'
#: Inputs found by hand that the generated cases may not reach: each must get a non-5xx answer in the
#: documented error shape (or a success), on whichever door it is aimed at.
KNOWN_BAD_INPUTS: list[tuple[str, str, dict[str, str], bytes]] = [
    *(
        ("POST", f"/v1/targets/claude/{door}", {}, _MESSAGES + b', "temperature": ' + number + b"}")
        for door in ("invoke", "stream")
        for number in (b"NaN", b"Infinity", b"-Infinity", b"1e999", b"9" * 5000)
    ),
    ("POST", "/v1/jobs", {}, b'{"target": "claude", "body": ' + _MESSAGES + b', "top_p": NaN}}'),
    ("POST", "/v1/targets/cl%2561ude/invoke", {}, _MESSAGES + b"}"),
    ("POST", "/v1/targets/cl%2561ude/stream", {}, _MESSAGES + b"}"),
    ("GET", "/v1/targets/claude/invoke", {}, b""),
    ("GET", "/v1/targets/claude/stream", {}, b""),
    ("POST", "/v1/targets/claude/invoke/", {}, _MESSAGES + b"}"),
    ("POST", "/v1/targets/claude/stream/", {}, _MESSAGES + b"}"),
    (
        "POST",
        "/v1/targets/claude/stream",
        {"Accept": "text/event-stream;q=0, application/x-ndjson"},
        _MESSAGES + b"}",
    ),
    ("POST", "/v1/targets/claude/stream", {"Accept": "text/html"}, _MESSAGES + b"}"),
    ("POST", "/v1/targets/claude/stream", {"Accept": "text/event-stream;q=banana"}, _MESSAGES + b"}"),
    ("POST", "/v1/targets/claude/stream", {}, b'{"messages": "' + b"x" * (2 * 1024 * 1024) + b'"}'),
    *(
        ("POST", "/v1/jobs", {}, b'{"target": "claude", "jobId": "' + job_id + b'", "body": {}}')
        for job_id in (b".", b"..", b"a/b")
    ),
    ("GET", "/v1/jobs/..%2F..%2Fetc", {}, b""),
    ("GET", "/v1/jobs/never/result", {}, b""),
    ("POST", "/v1/targets/claude/invoke", {"x-amzn-requestid": "forged"}, b"{broken"),
    ("POST", "/v1/targets/claude/stream", {"x-amzn-request-context": "{broken"}, b"{broken"),
    # The Bedrock-compatible routes: the same strictness, in Bedrock's error shape.
    *(
        ("POST", f"/model/{model}/{operation}", {}, body)
        for model in (
            "claude",
            "anthropic.claude-v2",
            "arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Fx.y",
        )
        for operation in OPERATIONS
        for body in (_MESSAGES + b', "temperature": NaN}', b"{broken", b"[]")
    ),
    *(
        ("POST", f"/model/anthropic.claude-v2/{operation}", {}, body)
        for operation in ("invoke", "invoke-with-response-stream")
        for body in (
            b'{"prompt": "no turns", "max_tokens_to_sample": 5}',
            b'{"prompt": "\\n\\nHuman: hi\\n\\nAssistant:", "max_tokens_to_sample": 5, "logit_bias": {}}',
            b'{"prompt": 5, "max_tokens_to_sample": "many"}',
        )
    ),
    *(
        ("POST", f"/model/claude/{operation}", {}, body)
        for operation in ("converse", "converse-stream")
        for body in (
            b'{"messages": ["hi"]}',
            b'{"messages": [{"role": "user", "content": [1]}]}',
            b'{"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": "a"}}',
        )
    ),
    ("POST", "/model/claude/no-such-operation", {}, b"{}"),
    ("GET", "/model/claude/invoke", {}, b""),
    ("GET", "/model/claude/converse-stream", {}, b""),
    ("POST", "/model/claude/invoke/", {}, _MESSAGES + b"}"),
    ("POST", "/model/cl%2561ude/converse", {}, b'{"messages": []}'),
    ("POST", "/model/claude/converse", {"X-Amzn-Bedrock-Trace": "sideways"}, b'{"messages": []}'),
    ("POST", "/v1/targets/claude/converse", {}, b'{"messages": [], "inferenceConfig": {"maxTokens": NaN}}'),
    ("POST", "/v1/targets/claude/converse-stream", {"Accept": "text/html"}, b'{"messages": []}'),
]


def replay_known_bad_inputs(url: str, key: str | None = None) -> tuple[dict[int, int], list[dict]]:
    """Send :data:`KNOWN_BAD_INPUTS` (with gateway ``key`` as a bearer token); returns the statuses and
    what was wrong with any answer."""
    import httpx

    statuses: dict[int, int] = {}
    problems = []
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=url, timeout=30, headers=auth) as client:
        for method, path, headers, body in KNOWN_BAD_INPUTS:
            response = client.request(method, path, content=body, headers=headers)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            problem = error_shape_problem(
                response.status_code,
                response.headers.get("content-type", ""),
                response.content,
                response.headers.get("retry-after"),
                path=path,
                error_type=response.headers.get("x-amzn-errortype"),
            )
            if response.status_code >= 500 or problem or "forged" in response.text:
                problems.append(
                    {"operation": f"{method} {path[:60]}", "status": response.status_code, "problem": problem}
                )
    return statuses, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=200, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="more than 1 trips a CPython 3.11 bug (concurrent ast use in hypothesis)",
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds before the run is stopped")
    parser.add_argument("--phases", default="examples,coverage,fuzzing")
    args = parser.parse_args(argv)

    import httpx
    from devstack.stack import DevStack

    from bench.common import configure_emulator

    started = time.monotonic()
    BENCH_DIR.mkdir(exist_ok=True)
    schema_path = BENCH_DIR / "openapi.json"
    tally_path = BENCH_DIR / "fuzz-tally.json"
    log_path = BENCH_DIR / "fuzz.log"
    tally_path.unlink(missing_ok=True)
    stack_log = BENCH_DIR / "fuzz-stack.log"
    stack_log.unlink(missing_ok=True)
    with (
        StackOutput(stack_log) as out,
        DevStack(
            port=0,
            emulator_port=0,
            https_port=None,
            concurrency=2,
            worker_concurrency=1,
            log_dir=".local/logs/fuzz",
        ) as stack,
    ):
        # Short model answers whatever max_tokens the fuzzer picks; no latency: this run is about answers.
        configure_emulator(stack.emulator.url, "*", output_tokens=8)
        served = httpx.get(f"{stack.url}/v1/openapi.json", timeout=30)
        served.raise_for_status()
        schema_path.write_text(json.dumps(served.json(), indent=2) + "\n")
        command = [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            str(schema_path),
            "--url",
            stack.url,
            "--checks",
            ",".join(CHECKS),
            "--phases",
            args.phases,
            "--max-examples",
            str(args.max_examples),
            "--seed",
            str(args.seed),
            "--workers",
            str(args.workers),
            "--request-timeout",
            "30",
            "--generation-database",
            "none",
            "--suppress-health-check",
            "all",
            "--no-color",
            "--warnings",
            "off",
            # The Bedrock-compatible routes always take a gateway key (the /v1 routes ignore it here).
            "--header",
            f"Authorization: Bearer {stack.dev_key}",
        ]
        env = child_env(
            {"SCHEMATHESIS_HOOKS": "bench.fuzz_checks", "BENCH_FUZZ_TALLY": str(tally_path)},
            lambda_like=False,
        )
        out.say(
            f"fuzz: schemathesis against {stack.url} ({args.phases}; <= {args.max_examples} examples per "
            f"operation; seed {args.seed}); its log: {log_path.relative_to(REPO)}, the stack's: "
            f"{stack_log.relative_to(REPO)}"
        )
        with open(log_path, "w") as log:
            try:
                completed = subprocess.run(
                    command,
                    cwd=BENCH_DIR,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=args.timeout,
                )
                returncode = completed.returncode
            except subprocess.TimeoutExpired:
                returncode = -1
                log.write(f"\n*** stopped after {args.timeout:.0f} s\n")
        known_statuses, known_problems = replay_known_bad_inputs(stack.url, stack.dev_key)
    tally = json.loads(tally_path.read_text()) if tally_path.exists() else {"statuses": {}, "operations": {}}
    statuses = {int(k): v for k, v in sorted(tally["statuses"].items(), key=lambda i: int(i[0]))}
    for status, count in known_statuses.items():
        statuses[status] = statuses.get(status, 0) + count
    statuses = dict(sorted(statuses.items()))
    server_errors = sum(v for k, v in statuses.items() if k >= 500)
    bad = tally.get("problem_count", 0) + len(known_problems)
    tally.setdefault("problems", []).extend(known_problems)
    requests = sum(statuses.values())
    ok = returncode == 0 and server_errors == 0 and bad == 0 and requests > 0
    if returncode != 0:
        tail = log_path.read_text().splitlines()[-60:]
        print("\n".join(tail))
    for problem in tally.get("problems", [])[:10]:
        print(f"  bad error body: {problem}")
    documented = sum(len(item) for item in json.loads(schema_path.read_text())["paths"].values())
    print(
        f"fuzz: {documented} operations ({len(tally['operations'])} method/path pairs tried), {requests} requests, "
        f"statuses {statuses}, "
        f"5xx={server_errors}, bad_error_bodies={bad}, schemathesis exit {returncode}, "
        f"{time.monotonic() - started:.0f}s -> {'OK' if ok else 'FAILED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
