"""Anthropic's legacy text-completion body, translated to the Messages API and back.

Claude 1, 2 and Instant took ``{"prompt": "\\n\\nHuman: ...\\n\\nAssistant:", "max_tokens_to_sample": N}``
and answered ``{"completion": ..., "stop_reason": ..., "stop": ...}``. Those models are retired; a target
with ``legacy_completions = true`` accepts such a body for the current Claude behind it, so code
written for them keeps running unchanged.

What is translated, exactly:

- ``prompt``: alternating ``\\n\\nHuman:`` and ``\\n\\nAssistant:`` turns become ``messages`` (text
  before the first ``Human:`` turn becomes ``system``; text after the final ``Assistant:`` becomes the
  start of the answer, as Claude 2 continued it);
- ``max_tokens_to_sample`` -> ``max_tokens``; ``stop_sequences``, ``temperature``, ``top_p`` and
  ``top_k`` keep their names; ``anthropic_version`` is set to ``bedrock-2023-05-31``;
- the answer: its text blocks -> ``completion``; ``stop_reason`` ``end_turn`` -> ``stop_sequence`` with
  ``stop: "\\n\\nHuman:"`` (Claude 2 stopped on the next turn), ``stop_sequence`` -> ``stop_sequence``
  with the sequence that matched, ``max_tokens`` -> ``max_tokens``;
- streamed answers: each text delta -> one ``{"completion": ..., "stop_reason": null, "stop": null}``
  chunk, and the closing chunk carries the stop reason and Bedrock's invocation metrics.

Anything else (another field, a prompt without its turns, an answer that is not text) is a 400 that
says what could not be translated: never a silent change.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bedrock_gateway.core.errors import ErrorCode, GatewayError

HUMAN, ASSISTANT = "\n\nHuman:", "\n\nAssistant:"
_TURN = re.compile(r"(\n\nHuman:|\n\nAssistant:)")
_PASSED_ON = ("stop_sequences", "temperature", "top_p", "top_k")
_KNOWN = {"prompt", "max_tokens_to_sample", "anthropic_version", *_PASSED_ON}
_METRICS_KEY = "amazon-bedrock-invocationMetrics"


def is_legacy(body: dict[str, Any]) -> bool:
    """Whether ``body`` is meant as a text-completion body: a ``prompt`` and no ``messages``. Only Claude
    targets translate, and no Messages body has a prompt: a body that misses ``max_tokens_to_sample``
    is refused by :func:`to_messages` saying so, not sent on for Bedrock to refuse in other terms."""
    return "prompt" in body and "messages" not in body


def _refuse(message: str) -> GatewayError:
    return GatewayError(ErrorCode.INVALID_REQUEST, f"cannot translate this text-completion body: {message}")


def to_messages(body: dict[str, Any]) -> dict[str, Any]:
    """The Messages request for a text-completion request."""
    problems, unknown = [], set(body) - _KNOWN
    if "max_tokens_to_sample" not in body:
        named = "max_tokens" in unknown
        unknown.discard("max_tokens")
        problems.append(
            "max_tokens_to_sample is missing (Claude 2 required it too"
            + ("; max_tokens is its Messages name)" if named else ")")
        )
    if unknown:
        problems.append(f"no Messages equivalent for {', '.join(sorted(unknown))}")
    if problems:
        raise _refuse("; ".join(problems))
    prompt, max_tokens = body["prompt"], body["max_tokens_to_sample"]
    if not isinstance(prompt, str) or not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise _refuse("prompt must be a string and max_tokens_to_sample an integer")
    parts = _TURN.split(prompt)
    preamble, turns = parts[0], list(zip(parts[1::2], parts[2::2], strict=True))
    if not turns or turns[0][0] != HUMAN or turns[-1][0] != ASSISTANT:
        raise _refuse(
            'the prompt must be "\\n\\nHuman: ...\\n\\nAssistant:" turns, from Human to a final Assistant'
        )
    messages: list[dict[str, Any]] = []
    for index, (marker, text) in enumerate(turns):
        role = "user" if marker == HUMAN else "assistant"
        if messages and messages[-1]["role"] == role:
            raise _refuse("Human and Assistant turns must alternate")
        text = text.strip()
        last = index == len(turns) - 1
        if not text and not last:
            raise _refuse(f"an empty {marker.strip()} turn")
        if text or not last:
            messages.append({"role": role, "content": text})
    translated: dict[str, Any] = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": max_tokens,
        "messages": messages,
    }
    if preamble.strip():
        translated["system"] = preamble.strip()
    translated.update({key: body[key] for key in _PASSED_ON if key in body})
    return translated


def _stop(stop_reason: str | None, stop_sequence: str | None) -> tuple[str | None, str | None]:
    """Claude 2's ``stop_reason`` and ``stop`` for a Messages stop reason."""
    if stop_reason == "end_turn":
        return "stop_sequence", HUMAN
    if stop_reason == "stop_sequence":
        return "stop_sequence", stop_sequence
    if stop_reason == "max_tokens":
        return "max_tokens", None
    if stop_reason is None:
        return None, None
    raise _refuse(f"the model stopped for {stop_reason!r}, which text completions cannot express")


def from_messages(answer: bytes) -> bytes:
    """The text-completion answer for a Messages answer."""
    document = json.loads(answer)
    texts = []
    for block in document.get("content") or []:
        if block.get("type") != "text":
            raise _refuse(
                f"the answer holds a {block.get('type')!r} block, which text completions cannot express"
            )
        texts.append(block.get("text", ""))
    stop_reason, stop = _stop(document.get("stop_reason"), document.get("stop_sequence"))
    completion = {"completion": "".join(texts), "stop_reason": stop_reason, "stop": stop}
    return json.dumps(completion, separators=(",", ":")).encode()


class StreamTranslator:
    """A Messages stream's chunks as text-completion chunks (``translate`` per chunk; None: nothing to send)."""

    def __init__(self) -> None:
        self._stop_reason: str | None = None
        self._stop_sequence: str | None = None

    def translate(self, chunk: bytes) -> bytes | None:
        event = json.loads(chunk)
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") != "text_delta":
                raise _refuse(f"a {delta.get('type')!r} delta, which text completions cannot express")
            return _chunk({"completion": delta.get("text", ""), "stop_reason": None, "stop": None})
        if kind == "message_delta":
            delta = event.get("delta") or {}
            self._stop_reason = delta.get("stop_reason")
            self._stop_sequence = delta.get("stop_sequence")
            return None
        if kind == "message_stop":
            stop_reason, stop = _stop(self._stop_reason, self._stop_sequence)
            closing: dict[str, Any] = {"completion": "", "stop_reason": stop_reason, "stop": stop}
            if _METRICS_KEY in event:
                closing[_METRICS_KEY] = event[_METRICS_KEY]
            return _chunk(closing)
        if kind == "content_block_start" and (event.get("content_block") or {}).get("type") not in (
            None,
            "text",
        ):
            raise _refuse("the answer holds a non-text block, which text completions cannot express")
        return None  # message_start, content_block_start/stop: nothing in a text completion


def _chunk(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()
