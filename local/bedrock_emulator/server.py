"""The HTTP server: Bedrock runtime, the ``bedrock`` control plane and ``/_emulator`` on one port.

Built on ``http.server.ThreadingHTTPServer`` with HTTP/1.1 keep-alive. Responses are written with
one socket write each (sync) or one write per event-stream message (streaming, chunked transfer
encoding), with Nagle disabled, so every event reaches the client as soon as it is produced.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import socket
import struct
import sys
import threading
import time
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from . import control, converse, eventstream, shapes
from .catalog import Catalog, Target
from .errors import ERROR_TYPE_SUFFIX, ERRORS, BedrockError, enum_violation, validation
from .families import Completion, Context, choose_format, generate, is_embedding, json_parts, tool_call
from .faults import Decision, State

log = logging.getLogger("bedrock_emulator")

_CREDENTIAL_REGION = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/")
_TRACE = ["ENABLED", "DISABLED", "ENABLED_FULL"]
_LATENCY = ["standard", "optimized"]
_TIERS = ["priority", "default", "flex", "reserved"]
# botocore's GuardrailIdentifier pattern: a guardrail ID such as "gr-abc123" is rejected, as Bedrock rejects it.
_GUARDRAIL_ID = re.compile(
    r"^(|[a-z0-9]+|arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+)$"
)
_GUARDRAIL_VERSION = re.compile(r"^(|[1-9][0-9]{0,7}|DRAFT)$")
_STREAMING_UNSUPPORTED = "The model is unsupported for streaming."
# Exception members of each stream union in botocore's service model; anything else is sent as an
# unmodeled error message.
_INVOKE_STREAM_MEMBERS = {
    "internalServerException",
    "modelStreamErrorException",
    "validationException",
    "throttlingException",
    "modelTimeoutException",
    "serviceUnavailableException",
}
_CONVERSE_STREAM_MEMBERS = _INVOKE_STREAM_MEMBERS - {"modelTimeoutException"}


def request_region(headers, default: str) -> str:
    """The region of the SigV4 credential scope, else ``default``."""
    match = _CREDENTIAL_REGION.search(headers.get("Authorization", ""))
    return match.group(1) if match else default


class App:
    """Request handling shared by all connections: catalog, fault state and counters."""

    def __init__(self, catalog: Catalog, state: State, region: str, account: str) -> None:
        self.catalog = catalog
        self.state = state
        self.region = region
        self.account = account

    # ---- runtime ----

    def invoke(self, h: _Handler, model_id: str, stream: bool, body: bytes) -> None:
        started = time.perf_counter()
        operation = "InvokeModelWithResponseStream" if stream else "InvokeModel"
        body_hash = hashlib.sha256(body).hexdigest()
        self.state.record_call(operation, model_id, body_hash)
        try:
            echo = self._check_headers(h.headers, stream)
            target = self.catalog.resolve(model_id, request_region(h.headers, self.region))
            self.state.record_resolved(target.resolved_id)
            if stream and not target.streaming:
                raise validation(_STREAMING_UNSUPPORTED)
            decision = self.state.decide(model_id, target.resolved_id)
            if decision.throttle:
                raise BedrockError("ThrottlingException")
            if decision.error and decision.error["when"] == "before":
                raise self._fault_error(decision.error, target.resource_arn)
            obj = self._parse_json(body)
            fmt = choose_format(target.formats, obj)
            ctx = Context(model_name=target.model_name, body_hash=body_hash)
            req = fmt.parse(obj, ctx)
            self._check_limit(fmt, req, target)
            if is_embedding(fmt):
                comp = Completion(pieces=[], input_tokens=req.input_tokens, truncated=False)
            elif req.forced_tool:
                call = tool_call(req, body, getattr(fmt, "tool_id_prefix", "call_"))
                comp = Completion(pieces=[], input_tokens=req.input_tokens, truncated=False, tool_call=call)
            else:
                comp = generate(
                    body,
                    input_tokens=req.input_tokens,
                    max_tokens=req.max_tokens,
                    forced_tokens=decision.output_tokens,
                    prefix=fmt.prefix,
                )
        except BedrockError as err:
            self.state.record_error(err.type)
            h.send_error_json(err)
            return
        guardrail = bool(h.headers.get("X-Amzn-Bedrock-GuardrailIdentifier"))

        # Counted once the model has produced its whole response, before the client can see its
        # end: that is when real Bedrock bills the invocation, delivered or not (``broken``: cut off
        # on the wire, "reset" or "truncated").
        def succeeded(broken: str | None = None) -> None:
            self.state.record_success(model_id, target.resolved_id, body_hash)
            if broken:
                self.state.record_broken(broken, body_hash)

        if stream:
            self._stream(h, echo, decision, fmt, req, comp, ctx, started, target.resource_arn, succeeded)
        else:
            self._sync(h, echo, decision, fmt, req, comp, ctx, started, guardrail, succeeded)

    @staticmethod
    def _check_limit(fmt, req, target: Target) -> None:
        """Refuse a max-token value over the model's documented output limit, as Bedrock does."""
        limit = target.max_output_tokens
        if limit is not None and req.max_tokens is not None and req.max_tokens > limit:
            raise fmt.limit_error(req.max_tokens, limit)

    # ---- Converse, ConverseStream, CountTokens, ApplyGuardrail ----

    def converse(self, h: _Handler, model_id: str, stream: bool, body: bytes) -> None:
        started = time.perf_counter()
        operation = "ConverseStream" if stream else "Converse"
        body_hash = hashlib.sha256(body).hexdigest()
        self.state.record_call(operation, model_id, body_hash)
        try:
            obj = self._parse_json(body)
            shapes.check(obj, shapes.CONVERSE_REQUEST)
            target = self.catalog.resolve(model_id, request_region(h.headers, self.region))
            self.state.record_resolved(target.resolved_id)
            decision = self.state.decide(model_id, target.resolved_id)
            if decision.throttle:
                raise BedrockError("ThrottlingException")
            if decision.error and decision.error["when"] == "before":
                raise self._fault_error(decision.error, target.resource_arn)
            conv = converse.Conversation(obj, target, stream, self.catalog)
            ctx = Context(model_name=target.model_name, body_hash=body_hash)
            req = conv.fmt.parse(conv.native, ctx)
            self._check_limit(conv.fmt, req, target)
            input_tokens = converse.count_input_tokens(req.input_tokens, conv)
            blocked = conv.blocked_word()
            if blocked:
                text = conv.guardrail["blockedInputMessaging"]
                comp = Completion(pieces=[text], input_tokens=input_tokens, truncated=False)
            elif conv.forced_tool:
                call = converse.forced_tool_call(conv, body)
                comp = Completion(pieces=[], input_tokens=input_tokens, truncated=False, tool_call=call)
            else:
                comp = generate(
                    body,
                    input_tokens=input_tokens,
                    max_tokens=req.max_tokens,
                    forced_tokens=decision.output_tokens,
                )
        except BedrockError as err:
            self.state.record_error(err.type)
            h.send_error_json(err)
            return

        def succeeded(broken: str | None = None) -> None:
            self.state.record_success(model_id, target.resolved_id, body_hash)
            if broken:
                self.state.record_broken(broken, body_hash)

        reason = converse.stop_reason(comp, bool(blocked))
        extra = converse.additional_fields(
            obj.get("additionalModelResponseFieldPaths") or [], conv.fmt.response(req, comp, ctx)
        )
        trace = converse.guardrail_trace(conv, blocked)
        echoed = {k: obj[k] for k in ("performanceConfig", "serviceTier") if k in obj}
        if not stream:
            n_chunks = len(comp.chunks(decision.tokens_per_chunk))
            delay_ms = decision.ttft_ms + decision.chunk_delay_ms * max(0, n_chunks - 1)
            if delay_ms:
                time.sleep(delay_ms / 1000)
            payload = {
                "output": {"message": {"role": "assistant", "content": converse.content_blocks(comp)}},
                "stopReason": reason,
                "usage": converse.usage(comp),
                "metrics": {"latencyMs": round((time.perf_counter() - started) * 1000)},
                **echoed,
            }
            if extra is not None:
                payload["additionalModelResponseFields"] = extra
            if trace:
                payload["trace"] = trace
            succeeded(decision.broken)
            if decision.broken:
                h.send_broken(payload, [], decision.broken)
                return
            h.send_json(200, payload)
            return

        chunks = comp.chunks(decision.tokens_per_chunk)
        events: list[tuple[str, dict, bool]] = [("messageStart", {"role": "assistant"}, False)]
        if comp.tool_call:
            tc = comp.tool_call
            start = {"toolUse": {"toolUseId": tc.id, "name": tc.name}}
            events.append(("contentBlockStart", {"start": start, "contentBlockIndex": 0}, False))
            for part in json_parts(tc.input_json, len(chunks)):
                events.append(
                    (
                        "contentBlockDelta",
                        {"delta": {"toolUse": {"input": part}}, "contentBlockIndex": 0},
                        True,
                    )
                )
        else:
            for text in chunks:
                events.append(("contentBlockDelta", {"delta": {"text": text}, "contentBlockIndex": 0}, True))
        events.append(("contentBlockStop", {"contentBlockIndex": 0}, False))
        stop = {
            "stopReason": reason,
            **({"additionalModelResponseFields": extra} if extra is not None else {}),
        }
        events.append(("messageStop", stop, False))
        metadata = {
            "usage": converse.usage(comp),
            "metrics": {},
            **echoed,
            **({"trace": trace} if trace else {}),
        }
        events.append(("metadata", metadata, False))

        def encode(index: int, event: tuple[str, dict, bool], first_byte_ms: int) -> bytes:
            kind, payload, _ = event
            if kind == "metadata":
                payload = {**payload, "metrics": {"latencyMs": round((time.perf_counter() - started) * 1000)}}
            return eventstream.converse_event(kind, payload)

        self._send_stream(
            h,
            [],
            decision,
            [(e, e[2]) for e in events],
            encode,
            _CONVERSE_STREAM_MEMBERS,
            target.resource_arn,
            succeeded,
        )

    def count_tokens(self, h: _Handler, model_id: str, body: bytes) -> None:
        self.state.record_call("CountTokens", model_id, hashlib.sha256(body).hexdigest())
        try:
            obj = self._parse_json(body)
            shapes.check(obj, shapes.COUNT_TOKENS_REQUEST)
            region = request_region(h.headers, self.region)
            target = self.catalog.resolve_for_counting(model_id, region)
            if "anthropic-messages" not in target.formats:
                raise validation(converse.NO_TOKEN_COUNT)
            given = obj.get("input") or {}
            if len(given) != 1 or next(iter(given)) not in ("invokeModel", "converse"):
                raise validation(
                    "The input must contain exactly one of invokeModel or converse."
                )  # our wording
            ctx = Context(model_name=target.model_name, body_hash="")
            if "invokeModel" in given:
                try:
                    raw = base64.b64decode(given["invokeModel"].get("body", ""), validate=True)
                except (ValueError, TypeError):
                    raise validation("The body must be base64-encoded JSON.") from None  # our wording
                native = self._parse_json(raw)
                fmt = choose_format(target.formats, native)
                tokens = fmt.parse(native, ctx).input_tokens
            else:
                conv = converse.Conversation(given["converse"], target, False, self.catalog)
                req = conv.fmt.parse(conv.native, ctx)
                tokens = converse.count_input_tokens(req.input_tokens, conv)
        except BedrockError as err:
            self.state.record_error(err.type)
            h.send_error_json(err)
            return
        h.send_json(200, {"inputTokens": tokens})

    def apply_guardrail(self, h: _Handler, identifier: str, version: str, body: bytes) -> None:
        self.state.record_call("ApplyGuardrail", identifier, hashlib.sha256(body).hexdigest())
        try:
            payload = converse.apply_guardrail(self.catalog, identifier, version, self._parse_json(body))
        except BedrockError as err:
            self.state.record_error(err.type)
            h.send_error_json(err)
            return
        h.send_json(200, payload)

    @staticmethod
    def _check_headers(headers, stream: bool) -> list[tuple[str, str]]:
        """Validate the modeled request headers; returns the response headers that echo them."""
        content_type = headers.get("Content-Type")
        if content_type and "json" not in content_type.lower():
            raise validation(
                f"The provided content type {content_type} is not supported. Use application/json."
            )
        accept = headers.get("X-Amzn-Bedrock-Accept" if stream else "Accept")
        if accept and "json" not in accept.lower() and "*/*" not in accept:
            raise validation(f"The provided Accept value {accept} is not supported. Use application/json.")
        trace = headers.get("X-Amzn-Bedrock-Trace")
        if trace is not None and trace not in _TRACE:
            raise enum_violation(trace, "trace", _TRACE)
        gid = headers.get("X-Amzn-Bedrock-GuardrailIdentifier")
        gver = headers.get("X-Amzn-Bedrock-GuardrailVersion")
        if gid is not None and not _GUARDRAIL_ID.match(gid):
            raise validation(
                f"1 validation error detected: Value '{gid}' at 'guardrailIdentifier' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern"
            )
        if gver is not None and not _GUARDRAIL_VERSION.match(gver):
            raise validation(
                f"1 validation error detected: Value '{gver}' at 'guardrailVersion' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern"
            )
        if gid and not gver:
            raise validation("Guardrail version is required when a guardrail identifier is specified.")
        if gver and not gid:
            raise validation("Guardrail identifier is required when a guardrail version is specified.")
        echo = []
        latency = headers.get("X-Amzn-Bedrock-PerformanceConfig-Latency")
        if latency is not None:
            if latency not in _LATENCY:
                raise enum_violation(latency, "performanceConfigLatency", _LATENCY)
            echo.append(("X-Amzn-Bedrock-PerformanceConfig-Latency", latency))
        tier = headers.get("X-Amzn-Bedrock-Service-Tier")
        if tier is not None:
            if tier not in _TIERS:
                raise enum_violation(tier, "serviceTier", _TIERS)
            echo.append(("X-Amzn-Bedrock-Service-Tier", tier))
        return echo

    @staticmethod
    def _parse_json(body: bytes) -> dict:
        try:
            obj = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise validation("Malformed input request, please reformat your input and try again.") from None
        if not isinstance(obj, dict):
            kind = "JSONArray" if isinstance(obj, list) else type(obj).__name__
            raise validation(
                f"Malformed input request: #: expected type: JSONObject, found: {kind}, "
                "please reformat your input and try again."
            )
        return obj

    @staticmethod
    def _fault_error(spec: dict, resource_arn: str) -> BedrockError:
        err = BedrockError(spec["type"], spec.get("message", ""))
        if err.type == "ModelErrorException":
            err.extra = {"originalStatusCode": 500, "resourceName": resource_arn}
        elif err.type == "ModelStreamErrorException":
            err.extra = {"originalStatusCode": 500, "originalMessage": "Model stream interrupted."}
        return err

    def _sync(self, h, echo, decision: Decision, fmt, req, comp, ctx, started, guardrail, succeeded) -> None:
        n_chunks = len(comp.chunks(decision.tokens_per_chunk))
        delay_ms = decision.ttft_ms + decision.chunk_delay_ms * max(0, n_chunks - 1)
        if delay_ms:
            time.sleep(delay_ms / 1000)
        payload = fmt.response(req, comp, ctx)
        if guardrail:
            payload["amazon-bedrock-guardrailAction"] = "NONE"
        latency = round((time.perf_counter() - started) * 1000)
        headers = [
            ("Content-Type", "application/json"),
            ("X-Amzn-Bedrock-Input-Token-Count", str(comp.input_tokens)),
            ("X-Amzn-Bedrock-Output-Token-Count", str(comp.output_tokens)),
            ("X-Amzn-Bedrock-Invocation-Latency", str(latency)),
            *echo,
        ]
        succeeded(decision.broken)
        if decision.broken:
            h.send_broken(payload, headers, decision.broken)
            return
        h.send_json(200, payload, headers)

    def _stream(
        self, h, echo, decision: Decision, fmt, req, comp, ctx, started, resource_arn, succeeded
    ) -> None:
        chunks = comp.chunks(decision.tokens_per_chunk)
        events = list(fmt.stream(req, comp, ctx, chunks))

        def encode(index: int, event: dict, first_byte_ms: int) -> bytes:
            if index == len(events) - 1:
                event = {
                    **event,
                    "amazon-bedrock-invocationMetrics": {
                        "inputTokenCount": comp.input_tokens,
                        "outputTokenCount": comp.output_tokens,
                        "invocationLatency": round((time.perf_counter() - started) * 1000),
                        "firstByteLatency": first_byte_ms,
                    },
                }
            return eventstream.chunk_event(event)

        headers = [("X-Amzn-Bedrock-Content-Type", "application/json"), *echo]
        self._send_stream(
            h, headers, decision, events, encode, _INVOKE_STREAM_MEMBERS, resource_arn, succeeded
        )

    def _send_stream(
        self, h, headers, decision: Decision, events, encode, members, resource_arn, succeeded
    ) -> None:
        """Write ``events`` ((event, carries tokens) pairs) as event-stream frames, with latency and faults."""
        started = time.perf_counter()
        error = decision.error if decision.error and decision.error["when"] == "after_chunks" else None
        try:
            h.start_stream([("Content-Type", "application/vnd.amazon.eventstream"), *headers])
            if decision.ttft_ms:
                time.sleep(decision.ttft_ms / 1000)
            first_byte_ms = None
            content_seen = False
            for index, (event, carries_tokens) in enumerate(events):
                if decision.broken and index == len(events) // 2:
                    succeeded(decision.broken)  # the model finished; the client will not see it
                    h.break_connection(decision.broken)
                    return
                if carries_tokens:
                    if content_seen and decision.chunk_delay_ms:
                        time.sleep(decision.chunk_delay_ms / 1000)
                    content_seen = True
                if error and index == error["after_chunks"]:
                    break
                if first_byte_ms is None:
                    first_byte_ms = round((time.perf_counter() - started) * 1000)
                h.write_chunk(encode(index, event, first_byte_ms))
            if error:
                self.state.record_error(error["type"])
                h.write_chunk(self._stream_error(error, resource_arn, members))
            else:
                succeeded()
            h.end_stream()
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True

    def _stream_error(self, spec: dict, resource_arn: str, members: set[str]) -> bytes:
        err = self._fault_error(spec, resource_arn)
        member = ERRORS[err.type].stream_member
        if member in members:
            return eventstream.exception_event(member, err.body())
        # Not a member of the ResponseStream union: an unmodeled error message.
        return eventstream.error_event(err.type, err.message)

    # ---- emulator control endpoint ----

    def emulator_control(self, h: _Handler, method: str, action: str, body: bytes) -> None:
        if method == "GET" and action == "health":
            h.send_json(
                200,
                {
                    "status": "ok",
                    "region": self.region,
                    "account": self.account,
                    "foundationModels": len(self.catalog.foundation_models),
                },
            )
        elif method == "GET" and action == "counters":
            h.send_json(200, self.state.counters())
        elif method == "GET" and action == "config":
            h.send_json(200, self.state.config())
        elif method == "POST" and action == "reset":
            self.state.reset()
            h.send_json(200, {"status": "reset"})
        elif method == "POST" and action == "config":
            try:
                fields = json.loads(body or b"{}")
                if not isinstance(fields, dict):
                    raise ValueError("the body must be a JSON object")
                model = fields.pop("model", "*")
                h.send_json(200, {"model": model, "settings": self.state.configure(model, **fields)})
            except (ValueError, TypeError) as exc:
                h.send_json(400, {"message": str(exc)})
        else:
            h.send_json(404, {"message": f"no emulator endpoint {method} /_emulator/{action}"})


_RUNTIME_ROUTES = (
    ("/invoke-with-response-stream", lambda app, h, model, body: app.invoke(h, model, True, body)),
    ("/invoke", lambda app, h, model, body: app.invoke(h, model, False, body)),
    ("/converse-stream", lambda app, h, model, body: app.converse(h, model, True, body)),
    ("/converse", lambda app, h, model, body: app.converse(h, model, False, body)),
    ("/count-tokens", lambda app, h, model, body: app.count_tokens(h, model, body)),
)
_APPLY_GUARDRAIL = re.compile(r"^/guardrail/(?P<id>[^/]+)/version/(?P<version>[^/]+)/apply$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args) -> None:
        if self.server.verbose:
            log.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        self.request_id = str(uuid.uuid4())
        app = self.server.app
        body = self._read_body()
        split = urlsplit(self.path)
        raw_path = split.path
        try:
            if raw_path.startswith("/model/") and method == "POST":
                for suffix, handler in _RUNTIME_ROUTES:
                    if raw_path.endswith(suffix):
                        model_id = unquote(raw_path[len("/model/") : -len(suffix)])
                        handler(app, self, model_id, body)
                        return
            guardrail = _APPLY_GUARDRAIL.match(raw_path)
            if guardrail and method == "POST":
                app.apply_guardrail(self, unquote(guardrail["id"]), unquote(guardrail["version"]), body)
                return
            if raw_path.startswith("/_emulator/"):
                app.emulator_control(self, method, raw_path[len("/_emulator/") :].strip("/"), body)
                return
            if method == "GET":
                segments = [unquote(s) for s in raw_path.strip("/").split("/")]
                query = dict(parse_qsl(split.query, keep_blank_values=True))
                region = request_region(self.headers, app.region)
                try:
                    answer = control.handle(app.catalog, segments, query, region)
                except BedrockError as err:
                    app.state.record_error(err.type)
                    self.send_error_json(err)
                    return
                if answer is not None:
                    operation, payload = answer
                    app.state.record_control(operation)
                    self.send_json(200, payload)
                    return
            self.send_json(
                404,
                {"message": f"No operation matches {method} {raw_path}"},
                [("X-Amzn-ErrorType", "UnknownOperationException" + ERROR_TYPE_SUFFIX)],
            )
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # never let a bug kill the connection silently
            log.exception("emulator error on %s %s", method, self.path)
            try:
                self.send_error_json(BedrockError("InternalServerException", f"Emulator error: {exc}"))
            except OSError:
                self.close_connection = True

    # ---- writing ----

    def _head(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        lines = [
            f"HTTP/1.1 {status} {self.responses.get(status, ('Unknown',))[0]}",
            f"Date: {formatdate(usegmt=True)}",
            f"x-amzn-RequestId: {self.request_id}",
        ]
        lines += [f"{name}: {value}" for name, value in headers]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _json_response(self, status: int, payload, headers) -> tuple[bytes, bytes]:
        """The head and body of a JSON response (a Content-Type unless ``headers`` has one)."""
        body = json.dumps(payload).encode("utf-8")
        hdrs = list(headers)
        if not any(name.lower() == "content-type" for name, _ in hdrs):
            hdrs.insert(0, ("Content-Type", "application/json"))
        hdrs.append(("Content-Length", str(len(body))))
        return self._head(status, hdrs), body

    def send_json(self, status: int, payload, headers: list[tuple[str, str]] = ()) -> bool:
        """Send a whole JSON response in one write; False if the client went away."""
        head, body = self._json_response(status, payload, headers)
        try:
            self.wfile.write(head + body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return False
        self.log_request(status, len(body))
        return True

    def send_broken(self, payload, headers: list[tuple[str, str]], kind: str) -> None:
        """Announce the whole JSON answer, send half of it, then cut the connection (``kind``)."""
        head, body = self._json_response(200, payload, headers)
        try:
            self.wfile.write(head + body[: len(body) // 2])
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.break_connection(kind)

    def break_connection(self, kind: str) -> None:
        """``truncated``: close cleanly mid-answer (FIN). ``reset``: abort it (RST)."""
        self.close_connection = True
        try:
            if kind == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
            self.connection.close()
        except OSError:
            pass

    def send_error_json(self, err: BedrockError) -> None:
        self.send_json(err.status, err.body(), [("X-Amzn-ErrorType", err.type + ERROR_TYPE_SUFFIX)])

    def start_stream(self, headers: list[tuple[str, str]]) -> None:
        self.wfile.write(self._head(200, [*headers, ("Transfer-Encoding", "chunked")]))
        self.log_request(200)

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, app: App, verbose: bool = False) -> None:
        self.app = app
        self.verbose = verbose
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections.discard(conn)

    def handle_error(self, request, client_address) -> None:
        """Clients dropping kept-alive connections is routine; anything else is logged, not printed."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, TimeoutError)):
            return
        log.error("error serving %s", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Shut down kept-alive connections so that a stopped emulator really stops answering."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
