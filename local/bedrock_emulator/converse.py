"""The Converse API (``Converse``, ``ConverseStream``), ``CountTokens`` and ``ApplyGuardrail``.

Shapes follow botocore's ``bedrock-runtime`` service model. Like Bedrock, Converse is a layer over the
model's native API: a request is validated (its shape by :mod:`.shapes`, before this module sees it),
checked against the model's Converse features (from the catalog of record), turned into the model
family's native body (``additionalModelRequestFields`` merged in), and validated again by that family's
body format, so errors and limits are the model's.

Messages quoted from Bedrock are its own; where Bedrock's wording is not public the comment says so.
"""

from __future__ import annotations

import base64
import json
import re

from . import shapes
from .catalog import Target
from .errors import BedrockError, constraint, validation
from .families import FORMATS, BodyFormat, Completion, ToolCall, count_tokens, example_input

UNSUPPORTED_MODEL = (
    "This action doesn't support the model that you provided. Try again with a supported text or chat model."
)
MUST_START_WITH_USER = (
    "A conversation must start with a user message. "
    "Try again with a conversation that starts with a user message."
)
MUST_ALTERNATE = (
    "A conversation must alternate between user and assistant roles. Make sure the conversation alternates "
    "between user and assistant roles and try again."
)
NO_STREAMING_TOOLS = "This model doesn't support tool use in streaming mode."
# Our wording: Bedrock's exact text for these is not public.
NO_SYSTEM = "This model doesn't support system messages. Try again without a system message."
NO_TOOLS = "This model doesn't support tool use."
NO_GUARDRAILS = "This model doesn't support guardrails."
GUARDRAIL_NOT_FOUND = "The guardrail identifier or version provided in the request does not exist."
NO_TOKEN_COUNT = "The provided model doesn't support counting tokens."

IMAGE_TOKENS = 1000  # a rough stand-in for what an image or document costs in input tokens
_GUARDRAIL_ID = re.compile(
    r"^(([a-z0-9]+)|(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+))$"
)
_GUARDRAIL_VERSION = re.compile(r"^(([1-9][0-9]{0,7})|(DRAFT))$")
# Families whose Converse tool use allows ``any``/``tool`` choices (Claude, Nova, Mistral Large, and
# the OpenAI-style chat models); the others take ``auto`` only.
_FORCED_CHOICE_FORMATS = {"anthropic-messages", "nova", "openai-chat"}


class Conversation:
    """A validated Converse request for one target: its native body and what the answer must honour."""

    def __init__(self, obj: dict, target: Target, stream: bool, catalog) -> None:
        self.obj = obj
        self.target = target
        self.features = target.model.converse if target.model else _IMPORTED_FEATURES
        self.fmt = _converse_format(target)
        self._check_model(stream)
        self.messages = self._messages()
        self.system = self._system()
        self.inference = self._inference()
        self.tools, self.forced_tool = self._tools(stream)
        self.guardrail = self._guardrail(catalog)
        self.native = self._native()

    # ---- validation ----

    def _check_model(self, stream: bool) -> None:
        model = self.target.model
        if self.fmt is None or (model and "TEXT" not in model.output_modalities):
            raise validation(UNSUPPORTED_MODEL)
        if not self.features.get("converseStream" if stream else "converse"):
            raise validation(UNSUPPORTED_MODEL)

    def _messages(self) -> list[dict]:
        messages = self.obj.get("messages")  # of the shape shapes.MESSAGES: roles and content are set
        if not messages or messages[0]["role"] != "user":
            raise validation(MUST_START_WITH_USER)
        for i, msg in enumerate(messages):
            if i and msg["role"] == messages[i - 1]["role"]:
                raise validation(MUST_ALTERNATE)
            content = msg["content"]
            if not content:
                raise validation(
                    f"The content field in the Message object at messages.{i} is empty. Add a ContentBlock "
                    "object to the content field and try again."
                )
            for j, block in enumerate(content):
                if "text" in block and not str(block["text"]).strip():
                    raise validation(
                        f"The text field in the ContentBlock object at messages.{i}.content.{j} is blank. "
                        "Add text to the text field, and try again."
                    )
        return messages

    def _system(self) -> list[str]:
        blocks = self.obj.get("system") or []
        texts = [b["text"] for b in blocks if isinstance(b, dict) and "text" in b]
        if texts and not self.features.get("systemPrompts"):
            raise validation(NO_SYSTEM)
        return texts

    def _inference(self) -> dict:
        cfg = self.obj.get("inferenceConfig") or {}  # types and ranges checked by shapes.CONVERSE_REQUEST
        max_tokens = cfg.get("maxTokens")
        limit = self.target.max_output_tokens
        if max_tokens is not None and limit is not None and max_tokens > limit:
            raise FORMATS["anthropic-messages"].limit_error(max_tokens, limit)
        return cfg

    def _tools(self, stream: bool) -> tuple[list[dict], dict | None]:
        config = self.obj.get("toolConfig")
        if config is None:
            return [], None
        if not self.features.get("toolUse"):
            raise validation(NO_TOOLS)
        if stream and not self.features.get("streamingToolUse"):
            raise validation(NO_STREAMING_TOOLS)
        tools = [t["toolSpec"] for t in config.get("tools", []) if "toolSpec" in t]
        if not tools:
            raise constraint("[]", "toolConfig.tools", "have length greater than or equal to 1")
        choice = config.get("toolChoice") or {"auto": {}}
        kind = next(iter(choice))
        if kind in ("any", "tool") and self.fmt.name not in _FORCED_CHOICE_FORMATS:
            raise validation(
                f"This model doesn't support the toolConfig.toolChoice.{kind} field. "
                f"Remove toolConfig.toolChoice.{kind} and try again."
            )
        if kind == "any":
            spec = tools[0]
        elif kind == "tool":
            name = choice["tool"].get("name")
            spec = next((t for t in tools if t["name"] == name), None)
            if spec is None:  # our wording
                raise validation(f"The tool {name} in toolConfig.toolChoice is not in toolConfig.tools.")
        else:
            return tools, None
        return tools, {"name": spec["name"], "schema": spec["inputSchema"].get("json", {"type": "object"})}

    def _guardrail(self, catalog) -> dict | None:
        config = self.obj.get("guardrailConfig")
        if config is None:
            return None
        gid, version = config.get("guardrailIdentifier", ""), config.get("guardrailVersion", "")
        if not _GUARDRAIL_ID.match(gid):
            raise constraint(gid, "guardrailConfig.guardrailIdentifier", "satisfy regular expression pattern")
        if not _GUARDRAIL_VERSION.match(version):
            raise constraint(
                version, "guardrailConfig.guardrailVersion", "satisfy regular expression pattern"
            )
        if not self.features.get("guardrails"):
            raise validation(NO_GUARDRAILS)
        guardrail = catalog.find_guardrail(gid, version)
        if guardrail is None:
            raise BedrockError("ResourceNotFoundException", GUARDRAIL_NOT_FOUND)
        return {**guardrail, "version": version, "trace": config.get("trace", "disabled")}

    # ---- the native request ----

    def _native(self) -> dict:
        native = _ADAPTERS[self.fmt.name](self)
        extra = self.obj.get("additionalModelRequestFields")
        if extra is not None:  # a JSON object: shapes.CONVERSE_REQUEST
            native.update(extra)
        return native

    def max_tokens(self, default: int = 4096) -> int:
        limit = self.target.max_output_tokens
        value = self.inference.get("maxTokens")
        if value is None:
            value = min(default, limit) if limit else default
        return value

    def input_text(self) -> str:
        """Everything a guardrail reads: system prompts and the text of every message."""
        return "\n".join([*self.system, *(block_text(b) for m in self.messages for b in m["content"])])

    def blocked_word(self) -> str | None:
        if not self.guardrail:
            return None
        return first_blocked(self.guardrail, self.input_text())


_IMPORTED_FEATURES = {"converse": True, "converseStream": True, "systemPrompts": True, "toolUse": False}


def _converse_format(target: Target) -> BodyFormat | None:
    if "anthropic-messages" in target.formats:
        return FORMATS["anthropic-messages"]
    name = target.formats[0] if target.formats else None
    if name in _ADAPTERS:
        return FORMATS[name]
    return None


def block_text(block: dict) -> str:
    """The text a content block contributes to the prompt."""
    if "text" in block:
        return str(block["text"])
    if "toolUse" in block:
        return block["toolUse"].get("name", "") + json.dumps(block["toolUse"].get("input", {}))
    if "toolResult" in block:
        parts = []
        for item in block["toolResult"].get("content", []):
            parts.append(item["text"] if "text" in item else json.dumps(item.get("json", item)))
        return " ".join(parts)
    if "reasoningContent" in block:
        return str(block["reasoningContent"].get("reasoningText", {}).get("text", ""))
    return ""


def media_tokens(messages: list[dict]) -> int:
    return IMAGE_TOKENS * sum(
        1 for m in messages for b in m["content"] if set(b) & {"image", "document", "video"}
    )


def first_blocked(guardrail: dict, text: str) -> str | None:
    lowered = text.lower()
    return next(
        (w for w in guardrail.get("blockedWords", []) if re.search(rf"\b{re.escape(w)}\b", lowered)), None
    )


# ---- Converse -> native body, per family ------------------------------------------------------------


def _anthropic(conv: Conversation) -> dict:
    def block(b):
        if "text" in b:
            return {"type": "text", "text": b["text"]}
        if "toolUse" in b:
            t = b["toolUse"]
            return {"type": "tool_use", "id": t["toolUseId"], "name": t["name"], "input": t.get("input", {})}
        if "toolResult" in b:
            t = b["toolResult"]
            return {"type": "tool_result", "tool_use_id": t["toolUseId"], "content": block_text(b)}
        return {"type": "text", "text": block_text(b) or "[media]"}

    native = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": conv.max_tokens(),
        "messages": [{"role": m["role"], "content": [block(b) for b in m["content"]]} for m in conv.messages],
    }
    if conv.system:
        native["system"] = "\n".join(conv.system)
    _copy(conv.inference, native, temperature="temperature", topP="top_p", stopSequences="stop_sequences")
    if conv.tools:
        native["tools"] = [
            {
                "name": t["name"],
                "description": t.get("description", ""),
                "input_schema": t["inputSchema"].get("json", {}),
            }
            for t in conv.tools
        ]
        if conv.forced_tool:
            native["tool_choice"] = {"type": "tool", "name": conv.forced_tool["name"]}
    return native


def _nova(conv: Conversation) -> dict:
    native = {
        "schemaVersion": "messages-v1",
        "messages": [
            {"role": m["role"], "content": [{"text": block_text(b)} for b in m["content"]]}
            for m in conv.messages
        ],
        "inferenceConfig": {"maxTokens": conv.max_tokens(5000)},
    }
    if conv.system:
        native["system"] = [{"text": t} for t in conv.system]
    _copy(
        conv.inference,
        native["inferenceConfig"],
        temperature="temperature",
        topP="topP",
        stopSequences="stopSequences",
    )
    if conv.tools:
        native["toolConfig"] = {"tools": [{"toolSpec": t} for t in conv.tools]}
    return native


def _turns(conv: Conversation) -> list[tuple[str, str]]:
    return [(m["role"], " ".join(block_text(b) for b in m["content"])) for m in conv.messages]


def _llama(conv: Conversation) -> dict:
    prompt = "<|begin_of_text|>"
    for role, text in [("system", t) for t in conv.system] + _turns(conv):
        prompt += f"<|start_header_id|>{role}<|end_header_id|>\n\n{text}<|eot_id|>"
    prompt += "<|start_header_id|>assistant<|end_header_id|>\n\n"
    native = {"prompt": prompt, "max_gen_len": conv.max_tokens(512)}
    _copy(conv.inference, native, temperature="temperature", topP="top_p")
    return native


def _mistral(conv: Conversation) -> dict:
    prompt = "<s>"
    for role, text in _turns(conv):
        prompt += f"[INST] {text} [/INST]" if role == "user" else f"{text}</s>"
    native = {"prompt": prompt, "max_tokens": conv.max_tokens(512)}
    _copy(conv.inference, native, temperature="temperature", topP="top_p", stopSequences="stop")
    return native


def _openai_chat(conv: Conversation) -> dict:
    messages = [{"role": "system", "content": t} for t in conv.system]
    messages += [{"role": role, "content": text} for role, text in _turns(conv)]
    native = {"messages": messages, "max_tokens": conv.max_tokens()}
    _copy(conv.inference, native, temperature="temperature", topP="top_p", stopSequences="stop")
    if conv.tools:
        native["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t["name"],
                    "description": t.get("description", ""),
                    "parameters": t["inputSchema"].get("json", {}),
                },
            }
            for t in conv.tools
        ]
    return native


def _deepseek_r1(conv: Conversation) -> dict:
    lines = [*conv.system] + [f"{'User' if r == 'user' else 'Assistant'}: {t}" for r, t in _turns(conv)]
    native = {"prompt": "\n".join(lines) + "\nAssistant:", "max_tokens": conv.max_tokens(8192)}
    _copy(conv.inference, native, temperature="temperature", topP="top_p", stopSequences="stop")
    return native


def _cohere_chat(conv: Conversation) -> dict:
    turns = _turns(conv)
    history = [{"role": "USER" if r == "user" else "CHATBOT", "message": t} for r, t in turns[:-1]]
    native = {"message": turns[-1][1], "max_tokens": conv.max_tokens(4000)}
    if history:
        native["chat_history"] = history
    if conv.system:
        native["preamble"] = "\n".join(conv.system)
    _copy(conv.inference, native, temperature="temperature", topP="p", stopSequences="stop_sequences")
    return native


def _titan_text(conv: Conversation) -> dict:
    lines = [f"{'User' if r == 'user' else 'Bot'}: {t}" for r, t in _turns(conv)]
    cfg = {"maxTokenCount": conv.max_tokens(512)}
    _copy(conv.inference, cfg, temperature="temperature", topP="topP", stopSequences="stopSequences")
    return {"inputText": "\n".join(lines) + "\nBot:", "textGenerationConfig": cfg}


def _copy(src: dict, dst: dict, **names: str) -> None:
    for ours, theirs in names.items():
        if src.get(ours) is not None:
            dst[theirs] = src[ours]


_ADAPTERS = {
    "anthropic-messages": _anthropic,
    "nova": _nova,
    "llama": _llama,
    "mistral": _mistral,
    "openai-chat": _openai_chat,
    "deepseek-r1": _deepseek_r1,
    "cohere-chat": _cohere_chat,
    "titan-text": _titan_text,
}


# ---- responses ----------------------------------------------------------------------------------


def stop_reason(comp: Completion, intervened: bool = False) -> str:
    if intervened:
        return "guardrail_intervened"
    if comp.tool_call:
        return "tool_use"
    return "max_tokens" if comp.truncated else "end_turn"


def content_blocks(comp: Completion) -> list[dict]:
    if comp.tool_call:
        tc = comp.tool_call
        return [{"toolUse": {"toolUseId": tc.id, "name": tc.name, "input": tc.input}}]
    return [{"text": comp.text}]


def usage(comp: Completion) -> dict:
    return {
        "inputTokens": comp.input_tokens,
        "outputTokens": comp.output_tokens,
        "totalTokens": comp.input_tokens + comp.output_tokens,
    }


def guardrail_trace(conv: Conversation, blocked: str | None) -> dict | None:
    """``trace.guardrail`` when the request asked for it (``trace`` enabled)."""
    if not conv.guardrail or conv.guardrail["trace"] == "disabled":
        return None
    return {"guardrail": {"inputAssessment": {conv.guardrail["id"]: assessment(blocked)}}}


def assessment(blocked: str | None) -> dict:
    words = [{"match": blocked, "action": "BLOCKED", "detected": True}] if blocked else []
    return {"wordPolicy": {"customWords": words, "managedWordLists": []}}


def additional_fields(paths: list[str], native_response: dict) -> dict | None:
    """``additionalModelResponseFields`` for the requested JSON pointers into the native response."""
    if not paths:
        return None
    out: dict = {}
    for path in paths:
        keys = [k for k in path.split("/") if k]
        value, found = native_response, True
        for key in keys:
            if isinstance(value, dict) and key in value:
                value = value[key]
            else:
                found = False
                break
        if found and keys:
            out[keys[-1]] = value
    return out


def forced_tool_call(conv: Conversation, body: bytes) -> ToolCall:
    import hashlib
    import random

    rng = random.Random(hashlib.sha256(body + b"tool").digest())
    digest = hashlib.sha256(body + conv.forced_tool["name"].encode()).hexdigest()
    return ToolCall(
        id="tooluse_" + base64.urlsafe_b64encode(bytes.fromhex(digest[:32])).decode().rstrip("="),
        name=conv.forced_tool["name"],
        input=example_input(conv.forced_tool["schema"], rng),
    )


# ---- ApplyGuardrail ------------------------------------------------------------------------------


def apply_guardrail(catalog, identifier: str, version: str, obj: dict) -> dict:
    """The ApplyGuardrail response: intervene when a blocked word of the guardrail appears."""
    guardrail = catalog.find_guardrail(identifier, version)
    if guardrail is None:
        raise BedrockError("ResourceNotFoundException", GUARDRAIL_NOT_FOUND)
    shapes.check(obj, shapes.APPLY_GUARDRAIL_REQUEST)
    source, content = obj["source"], obj["content"]
    text = "\n".join(str(c["text"]["text"]) for c in content if "text" in c)
    blocked = first_blocked(guardrail, text)
    message = guardrail["blockedInputMessaging" if source == "INPUT" else "blockedOutputsMessaging"]
    units = max(1, -(-len(text) // 1000))  # Bedrock bills text units of up to 1,000 characters
    return {
        "usage": {
            "topicPolicyUnits": 0,
            "contentPolicyUnits": 0,
            "wordPolicyUnits": units,
            "sensitiveInformationPolicyUnits": 0,
            "sensitiveInformationPolicyFreeUnits": 0,
            "contextualGroundingPolicyUnits": 0,
        },
        "action": "GUARDRAIL_INTERVENED" if blocked else "NONE",
        **({"actionReason": "Guardrail blocked."} if blocked else {}),
        "outputs": [{"text": message}] if blocked else [],
        "assessments": [assessment(blocked)],
        "guardrailCoverage": {"textCharacters": {"guarded": len(text), "total": len(text)}},
    }


# ---- CountTokens --------------------------------------------------------------------------------


def count_input_tokens(fmt_tokens: int, conv: Conversation | None) -> int:
    return fmt_tokens + (media_tokens(conv.messages) if conv else 0)


__all__ = [
    "Conversation",
    "additional_fields",
    "apply_guardrail",
    "content_blocks",
    "count_tokens",
    "forced_tool_call",
    "guardrail_trace",
    "stop_reason",
    "usage",
]
