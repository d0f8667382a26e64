"""Per-family native body formats: request validation and deterministic responses.

Each ``BodyFormat`` validates a request body the way Bedrock does for that model family (JSON-schema
errors worded like Bedrock's "Malformed input request: ..." messages) and renders a generated
``Completion`` as the family's own response body, or as its own sequence of stream chunks.

Generation is deterministic: the words come from a PRNG seeded with sha256 of the raw request body.
Tokens are counted by ``count_tokens`` (about four characters a token, like real BPE tokenizers on
English); the output token count is ``count_tokens`` of the text, and the stream's chunks
concatenate to exactly the non-streaming text.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from .errors import BedrockError, validation

NATURAL_TOKENS = (30, 120)

_VOCAB = (
    "the a an of to and in on for with from by as at into over under between across through about "
    "system model answer question data result value signal pattern process design method approach "
    "colony habitat mars planet surface oxygen water energy solar power dust storm crater orbit rover "
    "crew mission supply shelter greenhouse soil ice radiation pressure temperature gravity day night "
    "life living work build grow learn explore measure plan adapt survive protect share repair "
    "careful steady simple clear strong quiet bright cold thin red long early late future modern "
    "human people community family team engineer scientist pilot doctor farmer teacher "
    "first then next also however therefore because while although finally often usually "
    "can will may should must could would might needs makes keeps gives takes brings finds shows "
    "new small large common local global shared remote distant safe stable reliable efficient"
).split()


_TOKEN_RUNS = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]")


def count_tokens(text: str) -> int:
    """The emulator's tokenizer, deterministic and close to real ones: about 4 characters a token.

    Each run of letters/digits costs ceil(len/4) tokens, each other non-space character one token.
    """
    return sum(-(-len(run) // 4) if run[0].isalnum() else 1 for run in _TOKEN_RUNS.findall(text))


@dataclass
class ToolCall:
    """A tool-use block the model answers with (forced tool choice)."""

    id: str
    name: str
    input: dict

    @property
    def input_json(self) -> str:
        return json.dumps(self.input, separators=(",", ":"))


@dataclass
class Completion:
    """Generated output: one piece per word (with its leading space), concatenating to the text."""

    pieces: list[str]
    input_tokens: int
    truncated: bool  # stopped by the request's max-token field
    tool_call: ToolCall | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @cached_property
    def output_tokens(self) -> int:
        tokens = sum(count_tokens(p) for p in self.pieces)
        if self.tool_call:
            tokens += count_tokens(self.tool_call.name) + count_tokens(self.tool_call.input_json)
        return tokens

    def chunks(self, tokens_per_chunk: int) -> list[str]:
        n = max(1, tokens_per_chunk)
        return ["".join(self.pieces[i : i + n]) for i in range(0, len(self.pieces), n)]


def generate(
    body: bytes, *, input_tokens: int, max_tokens: int | None, forced_tokens: int | None, prefix: str = ""
) -> Completion:
    """Deterministic text for ``body``: natural length 30-120 tokens unless forced, capped by max_tokens.

    Words are added while they fit in the token budget. A word that would overflow a limit (the
    request's max tokens, or a forced length) is cut to the characters that fit, as a real model stops
    mid-word at its limit; a natural ending is never mid-word (the answer ends with the last whole word).
    """
    rng = random.Random(hashlib.sha256(body).digest())
    natural = forced_tokens if forced_tokens is not None else rng.randint(*NATURAL_TOKENS)
    budget = natural if max_tokens is None else min(natural, max_tokens)
    pieces: list[str] = []
    used = 0
    sentence_left = 0
    while used < budget:
        if sentence_left == 0:
            sentence_left = rng.randint(6, 14)
            word = rng.choice(_VOCAB).capitalize()
        else:
            word = rng.choice(_VOCAB)
        sentence_left -= 1
        if sentence_left == 0:
            word += "."
        piece = (prefix if not pieces else " ") + word
        cost = count_tokens(piece)
        if used + cost > budget:
            if pieces and forced_tokens is None and (max_tokens is None or natural <= max_tokens):
                break  # the model's own ending: after a whole word
            piece = piece[: len(piece) - len(word)] + word[: 4 * (budget - used)]
            cost = count_tokens(piece)
        pieces.append(piece)
        used += cost
    truncated = max_tokens is not None and natural > max_tokens
    return Completion(pieces=pieces, input_tokens=input_tokens, truncated=truncated)


# ---------------------------------------------------------------------------------------------
# A small JSON-schema checker that words its errors like Bedrock's (everit-style) validation.

_TYPE_NAMES = {
    str: "String",
    bool: "Boolean",
    int: "Integer",
    float: "BigDecimal",
    list: "JSONArray",
    dict: "JSONObject",
    type(None): "null",
}


def _type_name(value) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _is(value, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "any":
        return True
    raise AssertionError(kind)


_EXPECTED = {
    "string": "String",
    "integer": "Integer",
    "number": "Number",
    "boolean": "Boolean",
    "array": "JSONArray",
    "object": "JSONObject",
}


@dataclass(frozen=True)
class Field:
    kind: str  # string | integer | number | boolean | array | object | any
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple | None = None
    items: str | None = None  # kind of array items
    schema: Schema | None = None  # for objects


@dataclass(frozen=True)
class Schema:
    required: dict[str, Field] = field(default_factory=dict)
    optional: dict[str, Field] = field(default_factory=dict)
    open: bool = False  # allow keys not listed

    def errors(self, obj: dict, path: str = "#") -> list[str]:
        out = [f"{path}: required key [{k}] not found" for k in self.required if k not in obj]
        if not self.open:
            known = self.required.keys() | self.optional.keys()
            out += [f"{path}: extraneous key [{k}] is not permitted" for k in obj if k not in known]
        for key, value in obj.items():
            spec = self.required.get(key) or self.optional.get(key)
            if spec:
                out += _field_errors(value, spec, f"{path}/{key}")
        return out


def _field_errors(value, spec: Field, path: str) -> list[str]:
    if not _is(value, spec.kind):
        return [f"{path}: expected type: {_EXPECTED[spec.kind]}, found: {_type_name(value)}"]
    if spec.enum is not None and value not in spec.enum:
        return [f"{path}: {value} is not a valid enum value"]
    if spec.minimum is not None and value < spec.minimum:
        return [f"{path}: {value} is not greater or equal to {spec.minimum:g}"]
    if spec.maximum is not None and value > spec.maximum:
        return [f"{path}: {value} is not less or equal to {spec.maximum:g}"]
    if spec.kind == "array" and spec.items:
        errs = []
        for i, item in enumerate(value):
            errs += _field_errors(item, Field(spec.items), f"{path}/{i}")
        return errs
    if spec.kind == "object" and spec.schema:
        return spec.schema.errors(value, path)
    return []


def malformed(errors: list[str]) -> BedrockError:
    detail = "".join(errors)
    return validation(f"Malformed input request: {detail}, please reformat your input and try again.")


def check(body: dict, schema: Schema) -> None:
    errs = schema.errors(body)
    if errs:
        raise malformed(errs)


STR, NUM, BOOL, OBJ, ANY = Field("string"), Field("number"), Field("boolean"), Field("object"), Field("any")
STR_LIST = Field("array", items="string")
INT_MIN0 = Field("integer", minimum=0)
INT_MIN1 = Field("integer", minimum=1)
# Sampling ranges each provider documents (temperature and top_p in [0, 1]; OpenAI-style chat models
# take temperature up to 2). The wording of a range error follows the everit-style messages above:
# Bedrock's exact text for these is not public, so it is ours.
UNIT = Field("number", minimum=0, maximum=1)
TEMP_2 = Field("number", minimum=0, maximum=2)


# ---------------------------------------------------------------------------------------------


@dataclass
class Request:
    """What a body format extracted from a valid request body."""

    body: dict
    input_text: str
    max_tokens: int | None
    forced_tool: dict | None = None  # {"name", "schema"} when the request forces a tool call

    @property
    def input_tokens(self) -> int:
        return count_tokens(self.input_text)


def example_input(schema, rng: random.Random):
    """A deterministic value that satisfies a (simple) JSON schema: what a forced tool call sends."""
    if not isinstance(schema, dict):
        return {}
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: example_input(sub, rng) for name, sub in props.items()}
    if kind == "array":
        return [example_input(schema.get("items", {"type": "string"}), rng)]
    if kind == "integer":
        return int(schema.get("minimum", rng.randint(1, 100)))
    if kind == "number":
        return float(schema.get("minimum", rng.randint(1, 1000) / 10))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return rng.choice(_VOCAB)


def tool_call(req: Request, body: bytes, id_prefix: str) -> ToolCall:
    """The tool call a forced tool choice answers with, derived from the request body only."""
    rng = random.Random(hashlib.sha256(body + b"tool").digest())
    digest = hashlib.sha256(body + req.forced_tool["name"].encode()).hexdigest()
    return ToolCall(
        id=id_prefix + digest[:24],
        name=req.forced_tool["name"],
        input=example_input(req.forced_tool["schema"], rng),
    )


@dataclass
class Context:
    """Per-invocation values a body can quote: model name and stable IDs derived from the body."""

    model_name: str
    body_hash: str  # sha256 hex of the raw body

    def uuid(self, salt: str) -> str:
        return str(uuid.UUID(hashlib.sha256((self.body_hash + salt).encode()).hexdigest()[:32]))


Event = tuple[dict, bool]  # (chunk JSON, carries generated tokens)


class BodyFormat:
    """One model family's native request/response format."""

    name = ""
    prefix = ""  # leading text before the first generated word
    default_max_tokens: int | None = None
    schema = Schema()

    limit_field = "max_tokens"  # the body field an output-token limit error names

    def parse(self, body: dict, ctx: Context) -> Request:
        check(body, self.schema)
        return self._request(body)

    def limit_error(self, requested: int, limit: int) -> BedrockError:
        """The error for a max-token value over the model's output limit.

        Bedrock's text for Claude is public (below); for prompt-style families it is not, so those
        use the schema-error wording of their own body field.
        """
        return malformed([f"#/{self.limit_field}: {requested} is not less or equal to {limit}"])

    def _request(self, body: dict) -> Request:
        raise NotImplementedError

    def response(self, req: Request, comp: Completion, ctx: Context) -> dict:
        raise NotImplementedError

    def stream(self, req: Request, comp: Completion, ctx: Context, chunks: list[str]) -> Iterator[Event]:
        raise NotImplementedError


class AnthropicCompletions(BodyFormat):
    name = "anthropic-completions"
    prefix = " "
    limit_field = "max_tokens_to_sample"
    schema = Schema(
        required={"prompt": STR, "max_tokens_to_sample": INT_MIN1},
        optional={
            "temperature": UNIT,
            "top_p": UNIT,
            "top_k": INT_MIN0,
            "stop_sequences": STR_LIST,
            "anthropic_version": STR,
        },
    )

    def _request(self, body):
        prompt = body["prompt"]
        if "\n\nHuman:" not in prompt:
            raise validation('prompt must start with "\n\nHuman:" turn after an optional system prompt')
        if not prompt.endswith("\n\nAssistant:"):
            raise validation('prompt must end with "\n\nAssistant:" turn')
        return Request(body, prompt, body["max_tokens_to_sample"])

    @staticmethod
    def _stop(comp):
        return ("max_tokens", None) if comp.truncated else ("stop_sequence", "\n\nHuman:")

    def response(self, req, comp, ctx):
        reason, stop = self._stop(comp)
        return {"completion": comp.text, "stop_reason": reason, "stop": stop}

    def stream(self, req, comp, ctx, chunks):
        for text in chunks:
            yield {"completion": text, "stop_reason": None, "stop": None}, True
        reason, stop = self._stop(comp)
        yield {"completion": "", "stop_reason": reason, "stop": stop}, False


def json_parts(text: str, n: int) -> list[str]:
    """``text`` cut into about ``n`` consecutive parts (tool input JSON streamed as deltas)."""
    n = max(1, min(n, len(text)))
    size = -(-len(text) // n)
    return [text[i : i + size] for i in range(0, len(text), size)]


_ANTHROPIC_DATED = re.compile(r"^anthropic\.(.+-\d{8})-v\d+:\d+$")


def anthropic_model_name(model_id: str) -> str:
    """``anthropic.claude-3-haiku-20240307-v1:0`` -> ``claude-3-haiku-20240307`` (as the body reports it)."""
    m = _ANTHROPIC_DATED.match(model_id)
    if m:
        return m.group(1)
    return model_id.removeprefix("anthropic.")


class AnthropicMessages(BodyFormat):
    name = "anthropic-messages"
    schema = Schema(
        required={"anthropic_version": STR, "max_tokens": INT_MIN1, "messages": Field("array")},
        optional={
            "system": ANY,
            "temperature": UNIT,
            "top_p": UNIT,
            "top_k": INT_MIN0,
            "stop_sequences": STR_LIST,
            "tools": Field("array"),
            "tool_choice": OBJ,
            "anthropic_beta": STR_LIST,
            "thinking": OBJ,
            "metadata": OBJ,
        },
    )

    def parse(self, body, ctx):
        if "prompt" in body and "messages" not in body:
            raise validation(
                f'"{anthropic_model_name(ctx.model_name)}" is not supported on this API. '
                "Please use the Messages API instead."
            )
        return super().parse(body, ctx)

    tool_id_prefix = "toolu_bdrk_01"

    def limit_error(self, requested, limit):
        return validation(
            f"The maximum tokens you requested exceeds the model limit of {limit}. "
            f"Try again with a maximum tokens value that is lower than {limit}."
        )

    @staticmethod
    def _forced_tool(body) -> dict | None:
        """Validate ``tools``/``tool_choice``; the tool a ``tool``/``any`` choice forces, if any.

        The wording of these errors is Anthropic's where we know it, otherwise ours.
        """
        tools, choice = body.get("tools"), body.get("tool_choice")
        named = {}
        for i, tool in enumerate(tools or []):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                raise validation(f"tools.{i}.name: Field required")
            if "type" not in tool or tool["type"] == "custom":
                if not isinstance(tool.get("input_schema"), dict):
                    raise validation(f"tools.{i}.custom.input_schema: Field required")
            named[tool["name"]] = tool.get("input_schema", {"type": "object"})
        if choice is None:
            return None
        if not tools:
            raise validation("`tool_choice` may only be specified while providing tools.")
        kind = choice.get("type")
        if kind not in ("auto", "any", "tool", "none"):
            raise validation("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
        if kind == "tool":
            name = choice.get("name")
            if name not in named:
                raise validation(f"tool_choice.name: Tool '{name}' not found in tools")
            return {"name": name, "schema": named[name]}
        if kind == "any":
            name = next(iter(named))
            return {"name": name, "schema": named[name]}
        return None

    def _request(self, body):
        if body["anthropic_version"] != "bedrock-2023-05-31":
            raise validation('anthropic_version: "bedrock-2023-05-31" is the only supported value')
        messages = body["messages"]
        if not messages:
            raise validation("messages: at least one message is required")
        texts = []
        system = body.get("system")
        if isinstance(system, str):
            texts.append(system)
        elif isinstance(system, list):
            texts += [b.get("text", "") for b in system if isinstance(b, dict)]
        elif system is not None:
            raise malformed([f"#/system: expected type: String, found: {_type_name(system)}"])
        previous = None
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict):
                raise malformed([f"#/messages/{i}: expected type: JSONObject, found: {_type_name(msg)}"])
            role, content = msg.get("role"), msg.get("content")
            if role not in ("user", "assistant"):
                raise validation(f"messages.{i}.role: Input should be 'user' or 'assistant'")
            if i == 0 and role != "user":
                raise validation('messages: first message must use the "user" role')
            if role == previous:
                raise validation(
                    f'messages: roles must alternate between "user" and "assistant", '
                    f'but found multiple "{role}" roles in a row'
                )
            previous = role
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list) and content:
                for j, block in enumerate(content):
                    if not isinstance(block, dict) or "type" not in block:
                        raise validation(f"messages.{i}.content.{j}.type: Field required")
                    if block["type"] == "text":
                        if not isinstance(block.get("text"), str):
                            raise validation(f"messages.{i}.content.{j}.text: Field required")
                        texts.append(block["text"])
                    elif block["type"] == "tool_use":
                        texts.append(block.get("name", "") + json.dumps(block.get("input", {})))
                    elif block["type"] == "tool_result":
                        inner = block.get("content", "")
                        if isinstance(inner, list):
                            inner = " ".join(b.get("text", "") for b in inner if isinstance(b, dict))
                        texts.append(str(inner))
            else:
                raise validation(f"messages.{i}.content: Field required")
        forced = self._forced_tool(body)
        for tool in body.get("tools") or []:
            texts.append(
                tool["name"] + " " + tool.get("description", "") + json.dumps(tool.get("input_schema", {}))
            )
        return Request(body, "\n".join(texts), body["max_tokens"], forced_tool=forced)

    @staticmethod
    def _message_id(ctx):
        return "msg_bdrk_01" + hashlib.sha256(ctx.body_hash.encode()).hexdigest()[:22]

    @staticmethod
    def _stop_reason(comp):
        if comp.tool_call:
            return "tool_use"
        return "max_tokens" if comp.truncated else "end_turn"

    def response(self, req, comp, ctx):
        if comp.tool_call:
            tc = comp.tool_call
            content = [{"type": "tool_use", "id": tc.id, "name": tc.name, "input": tc.input}]
        else:
            content = [{"type": "text", "text": comp.text}]
        return {
            "id": self._message_id(ctx),
            "type": "message",
            "role": "assistant",
            "model": anthropic_model_name(ctx.model_name),
            "content": content,
            "stop_reason": self._stop_reason(comp),
            "stop_sequence": None,
            "usage": {"input_tokens": comp.input_tokens, "output_tokens": comp.output_tokens},
        }

    def stream(self, req, comp, ctx, chunks):
        yield (
            {
                "type": "message_start",
                "message": {
                    "id": self._message_id(ctx),
                    "type": "message",
                    "role": "assistant",
                    "model": anthropic_model_name(ctx.model_name),
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": comp.input_tokens, "output_tokens": 1},
                },
            },
            False,
        )
        if comp.tool_call:
            tc = comp.tool_call
            block = {"type": "tool_use", "id": tc.id, "name": tc.name, "input": {}}
            yield {"type": "content_block_start", "index": 0, "content_block": block}, False
            for part in json_parts(tc.input_json, len(chunks)):
                delta = {"type": "input_json_delta", "partial_json": part}
                yield {"type": "content_block_delta", "index": 0, "delta": delta}, True
        else:
            yield (
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                False,
            )
            for text in chunks:
                yield (
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": text},
                    },
                    True,
                )
        yield {"type": "content_block_stop", "index": 0}, False
        yield (
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": self._stop_reason(comp),
                    "stop_sequence": None,
                },
                "usage": {"output_tokens": comp.output_tokens},
            },
            False,
        )
        yield {"type": "message_stop"}, False


class TitanText(BodyFormat):
    name = "titan-text"
    prefix = "\n"
    default_max_tokens = 512
    limit_field = "textGenerationConfig/maxTokenCount"
    schema = Schema(
        required={"inputText": STR},
        optional={
            "textGenerationConfig": Field(
                "object",
                schema=Schema(
                    optional={
                        "maxTokenCount": INT_MIN0,
                        "temperature": UNIT,
                        "topP": UNIT,
                        "stopSequences": STR_LIST,
                    }
                ),
            )
        },
    )

    def _request(self, body):
        cfg = body.get("textGenerationConfig") or {}
        return Request(body, body["inputText"], cfg.get("maxTokenCount", self.default_max_tokens))

    def response(self, req, comp, ctx):
        return {
            "inputTextTokenCount": comp.input_tokens,
            "results": [
                {
                    "tokenCount": comp.output_tokens,
                    "outputText": comp.text,
                    "completionReason": "LENGTH" if comp.truncated else "FINISH",
                }
            ],
        }

    def stream(self, req, comp, ctx, chunks):
        # Titan's last chunk carries the last text together with the totals.
        chunks = chunks or [""]
        for i, text in enumerate(chunks):
            last = i == len(chunks) - 1
            yield (
                {
                    "outputText": text,
                    "index": 0,
                    "totalOutputTextTokenCount": comp.output_tokens if last else None,
                    "completionReason": ("LENGTH" if comp.truncated else "FINISH") if last else None,
                    "inputTextTokenCount": comp.input_tokens if i == 0 else None,
                },
                bool(text),
            )


class Nova(BodyFormat):
    name = "nova"
    default_max_tokens = 5000
    limit_error = AnthropicMessages.limit_error  # a messages API: the same wording as Claude's
    _content = Schema(optional={"text": STR}, open=True)
    _message = Schema(
        required={"role": Field("string", enum=("user", "assistant")), "content": Field("array")}
    )
    schema = Schema(
        required={"messages": Field("array")},
        optional={
            "schemaVersion": STR,
            "system": Field("array"),
            "toolConfig": OBJ,
            "inferenceConfig": Field(
                "object",
                schema=Schema(
                    optional={
                        "maxTokens": INT_MIN0,
                        "max_new_tokens": INT_MIN0,
                        "temperature": UNIT,
                        "topP": UNIT,
                        "top_p": UNIT,
                        "topK": INT_MIN0,
                        "top_k": INT_MIN0,
                        "stopSequences": STR_LIST,
                    }
                ),
            ),
        },
    )

    def _request(self, body):
        errs = []
        for i, msg in enumerate(body["messages"]):
            errs += _field_errors(msg, Field("object", schema=self._message), f"#/messages/{i}")
        if errs:
            raise malformed(errs)
        if not body["messages"]:
            raise validation(
                "A conversation must start with a user message. Try again with a conversation "
                "that starts with a user message."
            )
        if body["messages"][0]["role"] != "user":
            raise validation(
                "A conversation must start with a user message. Try again with a conversation "
                "that starts with a user message."
            )
        texts = [b.get("text", "") for b in body.get("system", []) if isinstance(b, dict)]
        for msg in body["messages"]:
            texts += [b.get("text", "") for b in msg["content"] if isinstance(b, dict)]
        cfg = body.get("inferenceConfig") or {}
        max_tokens = cfg.get("maxTokens", cfg.get("max_new_tokens", self.default_max_tokens))
        return Request(body, "\n".join(texts), max_tokens)

    @staticmethod
    def _reason(comp):
        return "max_tokens" if comp.truncated else "end_turn"

    def response(self, req, comp, ctx):
        return {
            "output": {"message": {"content": [{"text": comp.text}], "role": "assistant"}},
            "stopReason": self._reason(comp),
            "usage": {
                "inputTokens": comp.input_tokens,
                "outputTokens": comp.output_tokens,
                "totalTokens": comp.input_tokens + comp.output_tokens,
                "cacheReadInputTokenCount": 0,
                "cacheWriteInputTokenCount": 0,
            },
        }

    def stream(self, req, comp, ctx, chunks):
        yield {"messageStart": {"role": "assistant"}}, False
        for text in chunks:
            yield {"contentBlockDelta": {"delta": {"text": text}, "contentBlockIndex": 0}}, True
        yield {"contentBlockStop": {"contentBlockIndex": 0}}, False
        yield {"messageStop": {"stopReason": self._reason(comp)}}, False
        yield (
            {
                "metadata": {
                    "usage": {
                        "inputTokens": comp.input_tokens,
                        "outputTokens": comp.output_tokens,
                        "cacheReadInputTokenCount": 0,
                        "cacheWriteInputTokenCount": 0,
                    },
                    "metrics": {},
                    "trace": {},
                }
            },
            False,
        )


class Llama(BodyFormat):
    name = "llama"
    default_max_tokens = 512
    limit_field = "max_gen_len"
    schema = Schema(
        required={"prompt": STR},
        optional={"temperature": UNIT, "top_p": UNIT, "max_gen_len": INT_MIN1, "images": STR_LIST},
    )

    def _request(self, body):
        return Request(body, body["prompt"], body.get("max_gen_len", self.default_max_tokens))

    def response(self, req, comp, ctx):
        return {
            "generation": comp.text,
            "prompt_token_count": comp.input_tokens,
            "generation_token_count": comp.output_tokens,
            "stop_reason": "length" if comp.truncated else "stop",
        }

    def stream(self, req, comp, ctx, chunks):
        produced = 0
        for i, text in enumerate(chunks):
            produced += count_tokens(text)
            yield (
                {
                    "generation": text,
                    "prompt_token_count": comp.input_tokens if i == 0 else None,
                    "generation_token_count": produced,
                    "stop_reason": None,
                },
                True,
            )
        yield (
            {
                "generation": "",
                "prompt_token_count": None if chunks else comp.input_tokens,
                "generation_token_count": comp.output_tokens,
                "stop_reason": "length" if comp.truncated else "stop",
            },
            False,
        )


class Mistral(BodyFormat):
    name = "mistral"
    default_max_tokens = 512
    schema = Schema(
        required={"prompt": STR},
        optional={
            "max_tokens": INT_MIN1,
            "stop": STR_LIST,
            "temperature": UNIT,
            "top_p": UNIT,
            "top_k": INT_MIN0,
        },
    )

    def _request(self, body):
        return Request(body, body["prompt"], body.get("max_tokens", self.default_max_tokens))

    def response(self, req, comp, ctx):
        return {"outputs": [{"text": comp.text, "stop_reason": "length" if comp.truncated else "stop"}]}

    def stream(self, req, comp, ctx, chunks):
        for text in chunks:
            yield {"outputs": [{"text": text, "stop_reason": None}]}, True
        yield {"outputs": [{"text": "", "stop_reason": "length" if comp.truncated else "stop"}]}, False


class CohereCommand(BodyFormat):
    name = "cohere-command"
    prefix = " "
    default_max_tokens = 20  # Cohere Command's documented default
    schema = Schema(
        required={"prompt": STR},
        optional={
            "temperature": UNIT,
            "p": UNIT,
            "k": NUM,
            "max_tokens": INT_MIN1,
            "stop_sequences": STR_LIST,
            "return_likelihoods": Field("string", enum=("GENERATION", "ALL", "NONE")),
            "stream": BOOL,
            "num_generations": INT_MIN1,
            "logit_bias": OBJ,
            "truncate": Field("string", enum=("NONE", "START", "END")),
        },
    )

    def _request(self, body):
        return Request(body, body["prompt"], body.get("max_tokens", self.default_max_tokens))

    def response(self, req, comp, ctx):
        return {
            "id": ctx.uuid("response"),
            "generations": [
                {
                    "id": ctx.uuid("generation"),
                    "text": comp.text,
                    "finish_reason": "MAX_TOKENS" if comp.truncated else "COMPLETE",
                }
            ],
            "prompt": req.body["prompt"],
        }

    def stream(self, req, comp, ctx, chunks):
        for text in chunks:
            yield {"text": text, "is_finished": False}, True
        yield (
            {
                "is_finished": True,
                "finish_reason": "MAX_TOKENS" if comp.truncated else "COMPLETE",
                "response": self.response(req, comp, ctx),
            },
            False,
        )


class AI21Jurassic2(BodyFormat):
    name = "ai21-j2"
    default_max_tokens = 16  # Jurassic-2's documented default
    limit_field = "maxTokens"
    _penalty = Field("object", schema=Schema(optional={"scale": NUM}, open=True))
    schema = Schema(
        required={"prompt": STR},
        optional={
            "maxTokens": INT_MIN0,
            "minTokens": INT_MIN0,
            "temperature": UNIT,
            "topP": UNIT,
            "stopSequences": STR_LIST,
            "numResults": INT_MIN1,
            "topKReturn": INT_MIN0,
            "countPenalty": _penalty,
            "presencePenalty": _penalty,
            "frequencyPenalty": _penalty,
        },
    )

    def _request(self, body):
        return Request(body, body["prompt"], body.get("maxTokens", self.default_max_tokens))

    @staticmethod
    def _tokens(text: str) -> list[dict]:
        out = []
        for m in re.finditer(r"\S+", text):
            logprob = -round((len(m.group()) % 7) * 0.37 + 0.01, 4)
            out.append(
                {
                    "generatedToken": {
                        "token": "\u2581" + m.group(),
                        "logprob": logprob,
                        "raw_logprob": logprob,
                    },
                    "topTokens": None,
                    "textRange": {"start": m.start(), "end": m.end()},
                }
            )
        return out

    def response(self, req, comp, ctx):
        reason = {"reason": "length", "length": req.max_tokens} if comp.truncated else {"reason": "endoftext"}
        return {
            "id": int(ctx.body_hash[:8], 16) % 100000,
            "prompt": {"text": req.body["prompt"], "tokens": self._tokens(req.body["prompt"])},
            "completions": [
                {"data": {"text": comp.text, "tokens": self._tokens(comp.text)}, "finishReason": reason}
            ],
        }


class TitanEmbedV1(BodyFormat):
    name = "titan-embed-v1"
    dimensions = 1536
    schema = Schema(required={"inputText": STR})

    def _request(self, body):
        return Request(body, body["inputText"], 0)

    def vector(self, text: str, dims: int) -> list[float]:
        rng = random.Random(hashlib.sha256(text.encode("utf-8")).digest())
        return [round(rng.gauss(0.0, 0.5), 6) for _ in range(dims)]

    def response(self, req, comp, ctx):
        return {
            "embedding": self.vector(req.input_text, self.dimensions),
            "inputTextTokenCount": comp.input_tokens,
        }


class TitanEmbedV2(TitanEmbedV1):
    name = "titan-embed-v2"
    schema = Schema(
        required={"inputText": STR},
        optional={
            "dimensions": Field("integer", enum=(256, 512, 1024)),
            "normalize": BOOL,
            "embeddingTypes": Field("array", items="string"),
        },
    )

    def _request(self, body):
        types = body.get("embeddingTypes", ["float"])
        bad = [t for t in types if t not in ("float", "binary")]
        if bad or not types:
            raise malformed([f"#/embeddingTypes: {bad[0] if bad else '[]'} is not a valid enum value"])
        return Request(body, body["inputText"], 0)

    def response(self, req, comp, ctx):
        vec = self.vector(req.input_text, req.body.get("dimensions", 1024))
        if req.body.get("normalize", True):
            norm = math.sqrt(sum(x * x for x in vec)) or 1.0
            vec = [round(x / norm, 8) for x in vec]
        by_type = {}
        for kind in req.body.get("embeddingTypes", ["float"]):
            by_type[kind] = vec if kind == "float" else [1 if x > 0 else 0 for x in vec]
        return {"embedding": vec, "embeddingsByType": by_type, "inputTextTokenCount": comp.input_tokens}


class OpenAIChat(BodyFormat):
    """OpenAI-style chat completions: gpt-oss, Qwen3, DeepSeek-V3, Jamba and Mistral's chat models."""

    name = "openai-chat"
    default_max_tokens = 4096
    _message = Field("object", schema=Schema(required={"role": STR}, optional={"content": ANY}, open=True))
    schema = Schema(
        required={"messages": Field("array")},
        optional={
            "max_tokens": INT_MIN1,
            "max_completion_tokens": INT_MIN1,
            "temperature": TEMP_2,
            "top_p": UNIT,
            "stop": ANY,
            "stream": BOOL,
            "n": INT_MIN1,
            "tools": Field("array"),
            "tool_choice": ANY,
            "reasoning_effort": STR,
            "response_format": OBJ,
            "seed": Field("integer"),
            "frequency_penalty": NUM,
            "presence_penalty": NUM,
        },
        open=True,  # provider-specific fields pass through, as Bedrock forwards them
    )

    def _request(self, body):
        errs = []
        for i, msg in enumerate(body["messages"]):
            errs += _field_errors(msg, self._message, f"#/messages/{i}")
        if errs:
            raise malformed(errs)
        if not body["messages"]:
            raise validation("messages: at least one message is required")
        texts = []
        for msg in body["messages"]:
            content = msg.get("content")
            if isinstance(content, list):
                texts += [c.get("text", "") for c in content if isinstance(c, dict)]
            elif content is not None:
                texts.append(str(content))
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens", self.default_max_tokens))
        forced = None
        choice, tools = body.get("tool_choice"), body.get("tools") or []
        if isinstance(choice, dict) and choice.get("type") == "function":
            name = (choice.get("function") or {}).get("name")
            spec = next((t["function"] for t in tools if (t.get("function") or {}).get("name") == name), None)
            if spec is None:
                raise validation(f"tool_choice: function '{name}' is not in tools")  # our wording
            forced = {"name": name, "schema": spec.get("parameters", {"type": "object"})}
        elif choice == "required" and tools:
            spec = tools[0].get("function") or {}
            forced = {"name": spec.get("name", "tool"), "schema": spec.get("parameters", {"type": "object"})}
        return Request(body, "\n".join(texts), max_tokens, forced_tool=forced)

    @staticmethod
    def _finish(comp):
        if comp.tool_call:
            return "tool_calls"
        return "length" if comp.truncated else "stop"

    def _reply(self, comp):
        if comp.tool_call:
            tc = comp.tool_call
            call = {
                "id": tc.id,
                "type": "function",
                "function": {"name": tc.name, "arguments": tc.input_json},
            }
            return {"role": "assistant", "content": None, "tool_calls": [call]}
        return {"role": "assistant", "content": comp.text}

    def response(self, req, comp, ctx):
        return {
            "id": "chatcmpl-" + ctx.body_hash[:29],
            "object": "chat.completion",
            "created": int(ctx.body_hash[:8], 16) % 1_000_000_000 + 1_700_000_000,
            "model": ctx.model_name,
            "choices": [{"index": 0, "message": self._reply(comp), "finish_reason": self._finish(comp)}],
            "usage": {
                "prompt_tokens": comp.input_tokens,
                "completion_tokens": comp.output_tokens,
                "total_tokens": comp.input_tokens + comp.output_tokens,
            },
        }

    def stream(self, req, comp, ctx, chunks):
        base = {
            "id": "chatcmpl-" + ctx.body_hash[:29],
            "object": "chat.completion.chunk",
            "model": ctx.model_name,
        }
        if comp.tool_call:
            tc = comp.tool_call
            start = {
                "index": 0,
                "id": tc.id,
                "type": "function",
                "function": {"name": tc.name, "arguments": ""},
            }
            yield (
                {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [start]}}]},
                False,
            )
            for part in json_parts(tc.input_json, len(chunks)):
                delta = {"tool_calls": [{"index": 0, "function": {"arguments": part}}]}
                yield {**base, "choices": [{"index": 0, "delta": delta}]}, True
        else:
            for i, text in enumerate(chunks):
                delta = {"role": "assistant", "content": text} if i == 0 else {"content": text}
                yield {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}, True
        yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": self._finish(comp)}]}, False


class DeepSeekR1(BodyFormat):
    """DeepSeek-R1's prompt format (InvokeModel): ``prompt`` in, ``choices[].text`` out."""

    name = "deepseek-r1"
    default_max_tokens = 8192
    schema = Schema(
        required={"prompt": STR},
        optional={"max_tokens": INT_MIN1, "temperature": UNIT, "top_p": UNIT, "stop": STR_LIST},
    )

    def _request(self, body):
        return Request(body, body["prompt"], body.get("max_tokens", self.default_max_tokens))

    def response(self, req, comp, ctx):
        return {"choices": [{"text": comp.text, "stop_reason": "length" if comp.truncated else "stop"}]}

    def stream(self, req, comp, ctx, chunks):
        for text in chunks:
            yield {"choices": [{"text": text, "stop_reason": None}]}, True
        yield {"choices": [{"text": "", "stop_reason": "length" if comp.truncated else "stop"}]}, False


class CohereChat(BodyFormat):
    """Cohere Command R / R+ chat format: ``message`` + ``chat_history`` + ``preamble``."""

    name = "cohere-chat"
    default_max_tokens = 4000
    schema = Schema(
        required={"message": STR},
        optional={
            "chat_history": Field("array"),
            "preamble": STR,
            "documents": Field("array"),
            "search_queries_only": BOOL,
            "max_tokens": INT_MIN1,
            "temperature": UNIT,
            "p": UNIT,
            "k": NUM,
            "prompt_truncation": STR,
            "frequency_penalty": NUM,
            "presence_penalty": NUM,
            "seed": Field("integer"),
            "return_prompt": BOOL,
            "tools": Field("array"),
            "tool_results": Field("array"),
            "stop_sequences": STR_LIST,
            "raw_prompting": BOOL,
        },
    )

    def _request(self, body):
        texts = [body.get("preamble", "")]
        texts += [
            str(turn.get("message", "")) for turn in body.get("chat_history", []) if isinstance(turn, dict)
        ]
        texts.append(body["message"])
        return Request(
            body, "\n".join(t for t in texts if t), body.get("max_tokens", self.default_max_tokens)
        )

    def response(self, req, comp, ctx):
        return {
            "response_id": ctx.uuid("response"),
            "text": comp.text,
            "generation_id": ctx.uuid("generation"),
            "chat_history": [
                *req.body.get("chat_history", []),
                {"role": "USER", "message": req.body["message"]},
                {"role": "CHATBOT", "message": comp.text},
            ],
            "finish_reason": "MAX_TOKENS" if comp.truncated else "COMPLETE",
        }

    def stream(self, req, comp, ctx, chunks):
        yield (
            {"is_finished": False, "event_type": "stream-start", "generation_id": ctx.uuid("generation")},
            False,
        )
        for text in chunks:
            yield {"is_finished": False, "event_type": "text-generation", "text": text}, True
        yield (
            {
                "is_finished": True,
                "event_type": "stream-end",
                "finish_reason": "MAX_TOKENS" if comp.truncated else "COMPLETE",
                "response": self.response(req, comp, ctx),
            },
            False,
        )


FORMATS: dict[str, BodyFormat] = {
    f.name: f
    for f in (
        AnthropicCompletions(),
        AnthropicMessages(),
        TitanText(),
        Nova(),
        Llama(),
        Mistral(),
        CohereCommand(),
        AI21Jurassic2(),
        TitanEmbedV1(),
        TitanEmbedV2(),
        OpenAIChat(),
        DeepSeekR1(),
        CohereChat(),
    )
}

# Which native body format(s) each model family speaks (first = default), by model-ID prefix; the
# first matching rule wins. This is emulator knowledge, not a Bedrock fact, so it lives here and not
# in the shared catalog.
FORMAT_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("anthropic.claude-v2", ("anthropic-completions", "anthropic-messages")),
    ("anthropic.claude-instant", ("anthropic-completions", "anthropic-messages")),
    ("anthropic.", ("anthropic-messages",)),
    ("amazon.nova-", ("nova",)),
    ("amazon.titan-text-", ("titan-text",)),
    ("amazon.titan-embed-text-v1", ("titan-embed-v1",)),
    ("amazon.titan-embed-text-v2", ("titan-embed-v2",)),
    ("meta.", ("llama",)),
    ("mistral.pixtral", ("openai-chat",)),
    ("mistral.mistral-large-3", ("openai-chat",)),
    ("mistral.", ("mistral",)),
    ("cohere.command-r", ("cohere-chat",)),
    ("cohere.command", ("cohere-command",)),
    ("ai21.j2", ("ai21-j2",)),
    ("ai21.jamba", ("openai-chat",)),
    ("deepseek.r1", ("deepseek-r1",)),
    ("deepseek.", ("openai-chat",)),
    ("openai.", ("openai-chat",)),
    ("qwen.", ("openai-chat",)),
)


def formats_for(model_id: str) -> tuple[str, ...]:
    """The native body formats a foundation model accepts; () if the emulator has none for it."""
    return next((formats for prefix, formats in FORMAT_RULES if model_id.startswith(prefix)), ())


def choose_format(formats: tuple[str, ...], body: dict) -> BodyFormat:
    """The body format a model uses for this body (Claude 2 accepts both Anthropic formats)."""
    if len(formats) > 1 and "anthropic-messages" in formats and "messages" in body:
        return FORMATS["anthropic-messages"]
    return FORMATS[formats[0]]


def is_embedding(fmt: BodyFormat) -> bool:
    return isinstance(fmt, TitanEmbedV1)
