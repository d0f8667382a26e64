"""The request shapes of ``Converse``, ``ConverseStream``, ``CountTokens`` and ``ApplyGuardrail``, and a
validator that answers a malformed body with a 400 the way Bedrock does, before any model logic runs.

Shapes, required members, enums, lengths and ranges are botocore's ``bedrock-runtime`` service model
(``botocore/data/bedrock-runtime/2023-09-30/service-2.json``, read at boto/botocore@0e6e2404). Three
kinds of answer, all ``ValidationException``:

* A value of the wrong JSON type: Bedrock answers a non-object where it wants a JSON object with
  "The format of the value at messages.2.content.0.toolResult.content.0.json is invalid. Provide a json
  object for the field and try again." (seen for ``toolUse.input`` and ``toolResult.content.N.json``;
  aws/aws-sdk-js-v3#7330 and many reports). We use that wording for every type mismatch; for other
  types (a string where a list belongs, ...) Bedrock's exact answer is not public, and it may be a
  ``SerializationException`` there: unverified.
* A missing required member: Coral's "1 validation error detected: Value null at '...' failed to
  satisfy constraint: Member must not be null".
* A modeled constraint (enum, length, range, pattern): Coral's "1 validation error detected: Value '...'
  at '...' failed to satisfy constraint: Member must ...". Coral counts list members from 1
  ("Value 'system' at 'messages.1.member.role'" for a first message with role system), while Bedrock's
  own messages count from 0 ("The text field in the ContentBlock object at messages.0.content.0 ...").

Like Coral, a ``null`` optional member counts as absent, and members the model does not know are
ignored. A union must set exactly one member it knows (our wording: botocore refuses that client-side).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import BedrockError, constraint, enum_violation, validation


@dataclass(frozen=True)
class Shape:
    kind: str  # structure, union, list, map, string, integer, float, boolean, blob, document
    members: dict = field(default_factory=dict)  # structure/union: name -> Shape
    required: tuple = ()
    member: Shape | None = None  # list member, map value
    min: float | None = None
    max: float | None = None
    enum: tuple = ()
    pattern: str | None = None
    object_only: bool = False  # a document that Bedrock requires to be a JSON object


def _struct(required: tuple = (), **members: Shape) -> Shape:
    return Shape("structure", members=members, required=required)


def _union(**members: Shape) -> Shape:
    return Shape("union", members=members)


def _list(member: Shape, min: int | None = None, max: int | None = None) -> Shape:
    return Shape("list", member=member, min=min, max=max)


def _str(min: int | None = None, max: int | None = None, enum: tuple = (), pattern: str | None = None):
    return Shape("string", min=min, max=max, enum=enum, pattern=pattern)


STRING = _str()
NON_EMPTY = _str(min=1)
BOOLEAN = Shape("boolean")
BLOB = Shape("blob", min=1)
DOCUMENT = Shape("document")
JSON_OBJECT = Shape("document", object_only=True)
TOOL_NAME = _str(1, 64, pattern=r"[a-zA-Z0-9_-]+")
TOOL_USE_ID = _str(1, 64, pattern=r"[a-zA-Z0-9_.:-]+")
S3_LOCATION = _struct(("uri",), uri=_str(1, 1024), bucketOwner=STRING)
CITATIONS_CONFIG = _struct(("enabled",), enabled=BOOLEAN)
CACHE_POINT = _struct(("type",), type=_str(enum=("default",)), ttl=_str(enum=("5m", "1h")))
IMAGE = _struct(
    ("format", "source"),
    format=_str(enum=("png", "jpeg", "gif", "webp")),
    source=_union(bytes=BLOB, s3Location=S3_LOCATION),
    error=_struct(message=STRING),
)
DOCUMENT_BLOCK = _struct(
    ("name", "source"),
    format=_str(enum=("pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md")),
    name=_str(1, 200),
    source=_union(bytes=BLOB, s3Location=S3_LOCATION, text=STRING, content=_list(_union(text=STRING))),
    context=STRING,
    citations=CITATIONS_CONFIG,
)
VIDEO = _struct(
    ("format", "source"),
    format=_str(enum=("mkv", "mov", "mp4", "webm", "flv", "mpeg", "mpg", "wmv", "three_gp")),
    source=_union(bytes=BLOB, s3Location=S3_LOCATION),
)
AUDIO = _struct(
    ("format", "source"),
    format=_str(
        enum=(
            "mp3",
            "opus",
            "wav",
            "aac",
            "flac",
            "mp4",
            "ogg",
            "mkv",
            "mka",
            "x-aac",
            "m4a",
            "mpeg",
            "mpga",
            "pcm",
            "webm",
        )
    ),  # fmt: skip
    source=_union(bytes=BLOB, s3Location=S3_LOCATION),
    error=_struct(message=STRING),
)
SEARCH_RESULT = _struct(
    ("source", "title", "content"),
    source=STRING,
    title=STRING,
    content=_list(_struct(("text",), text=STRING)),
    citations=CITATIONS_CONFIG,
)
GUARD_CONTENT = _union(
    text=_struct(
        ("text",),
        text=STRING,
        qualifiers=_list(_str(enum=("grounding_source", "query", "guard_content"))),
    ),
    image=_struct(("format", "source"), format=_str(enum=("png", "jpeg")), source=_union(bytes=BLOB)),
)
TOOL_REFERENCE = _struct(type=_str(1, 64), name=_str(1, 128), serverName=_str(1, 128))
CONTENT_BLOCK = _union(
    text=STRING,
    image=IMAGE,
    document=DOCUMENT_BLOCK,
    video=VIDEO,
    audio=AUDIO,
    toolUse=_struct(
        ("toolUseId", "name", "input"),
        toolUseId=TOOL_USE_ID,
        name=TOOL_NAME,
        input=JSON_OBJECT,
        type=_str(enum=("server_tool_use",)),
    ),
    toolResult=_struct(
        ("toolUseId", "content"),
        toolUseId=TOOL_USE_ID,
        content=_list(
            _union(
                json=JSON_OBJECT,
                text=STRING,
                image=IMAGE,
                document=DOCUMENT_BLOCK,
                video=VIDEO,
                searchResult=SEARCH_RESULT,
            )
        ),
        status=_str(enum=("success", "error")),
        type=STRING,
    ),
    guardContent=GUARD_CONTENT,
    cachePoint=CACHE_POINT,
    reasoningContent=_union(
        reasoningText=_struct(("text",), text=STRING, signature=STRING), redactedContent=Shape("blob")
    ),
    citationsContent=_struct(content=_list(_union(text=STRING)), citations=_list(DOCUMENT)),
    searchResult=SEARCH_RESULT,
    toolAddition=_struct(("tool",), tool=TOOL_REFERENCE),
    toolRemoval=_struct(("tool",), tool=TOOL_REFERENCE),
)
# The model's ConversationRole also lists "system", but Converse refuses it: "1 validation error
# detected: Value 'system' at 'messages.1.member.role' failed to satisfy constraint: Member must
# satisfy enum value set: [user, assistant]" (a Converse answer reported by users).
MESSAGES = _list(
    _struct(("role", "content"), role=_str(enum=("user", "assistant")), content=_list(CONTENT_BLOCK))
)
SYSTEM = _list(_union(text=NON_EMPTY, guardContent=GUARD_CONTENT, cachePoint=CACHE_POINT))
TOOL_CONFIG = _struct(
    ("tools",),
    tools=_list(
        _union(
            toolSpec=_struct(
                ("name", "inputSchema"),
                name=TOOL_NAME,
                description=NON_EMPTY,
                inputSchema=_union(json=JSON_OBJECT),
                strict=BOOLEAN,
            ),
            systemTool=_struct(("name",), name=TOOL_NAME),
            cachePoint=CACHE_POINT,
        ),
        min=1,
    ),
    toolChoice=_union(auto=_struct(), any=_struct(), tool=_struct(("name",), name=TOOL_NAME)),
)
GUARDRAIL_CONFIG = _struct(
    guardrailIdentifier=_str(0, 2048),
    guardrailVersion=STRING,
    trace=_str(enum=("enabled", "disabled", "enabled_full")),
    streamProcessingMode=_str(enum=("sync", "async")),  # ConverseStream's GuardrailStreamConfiguration
)
_METADATA = r"[a-zA-Z0-9\s:_@$#=/+,-.]{0,256}"
CONVERSE_REQUEST = _struct(
    messages=MESSAGES,
    system=SYSTEM,
    inferenceConfig=_struct(
        maxTokens=Shape("integer", min=1),
        temperature=Shape("float", min=0, max=1),
        topP=Shape("float", min=0, max=1),
        stopSequences=_list(NON_EMPTY, min=0, max=2500),
    ),
    toolConfig=TOOL_CONFIG,
    guardrailConfig=GUARDRAIL_CONFIG,
    additionalModelRequestFields=JSON_OBJECT,
    promptVariables=Shape("map", member=_union(text=STRING)),
    additionalModelResponseFieldPaths=_list(_str(1, 256), min=0, max=10),
    requestMetadata=Shape("map", member=_str(0, 256, pattern=_METADATA), min=1, max=16),
    performanceConfig=_struct(latency=_str(enum=("standard", "optimized"))),
    serviceTier=_struct(("type",), type=_str(enum=("priority", "default", "flex", "reserved"))),
    outputConfig=_struct(
        textFormat=_struct(
            ("type", "structure"),
            type=_str(enum=("json_schema",)),
            structure=_union(jsonSchema=_struct(("schema",), schema=STRING, name=STRING, description=STRING)),
        ),
        effort=_str(0, 16),
    ),
)
COUNT_TOKENS_REQUEST = _struct(
    ("input",),
    input=_union(
        invokeModel=_struct(("body",), body=Shape("blob", min=0)),
        converse=_struct(
            messages=MESSAGES,
            system=SYSTEM,
            toolConfig=TOOL_CONFIG,
            additionalModelRequestFields=JSON_OBJECT,
        ),
    ),
)
APPLY_GUARDRAIL_REQUEST = _struct(
    ("source", "content"),
    source=_str(enum=("INPUT", "OUTPUT")),
    content=_list(GUARD_CONTENT),
    outputScope=_str(enum=("INTERVENTIONS", "FULL")),
)

_JSON_TYPE = {
    "structure": "a json object",
    "union": "a json object",
    "map": "a json object",
    "document": "a json object",
    "list": "a list",
    "string": "a string",
    "blob": "a base64-encoded string",
    "integer": "an integer",
    "float": "a number",
    "boolean": "a boolean",
}


def check(value, shape: Shape) -> None:
    """Raise Bedrock's ``ValidationException`` for the first way ``value`` does not fit ``shape``."""
    _check(value, shape, ())


def _check(value, shape: Shape, path: tuple) -> None:
    if not _fits_type(value, shape):
        raise validation(
            f"The format of the value at {_bedrock_path(path)} is invalid. Provide {_JSON_TYPE[shape.kind]} "
            "for the field and try again."
        )
    if shape.kind in ("structure", "union"):
        _check_members(value, shape, path)
    elif shape.kind in ("list", "map"):
        _check_length(value, shape, path, repr_value=lambda: "[]" if not value else str(value))
        items = enumerate(value) if shape.kind == "list" else value.items()
        for key, item in items:
            if item is None:
                raise _missing(path + (key,))
            _check(item, shape.member, path + (key,))
    elif shape.kind == "string":
        if shape.enum and value not in shape.enum:
            raise enum_violation(value, _coral_path(path), list(shape.enum))
        _check_length(value, shape, path, repr_value=lambda: value)
        if shape.pattern and not re.fullmatch(shape.pattern, value):
            raise constraint(value, _coral_path(path), "satisfy regular expression pattern")
    elif shape.kind in ("integer", "float"):
        if shape.min is not None and value < shape.min:
            rule = f"have value greater than or equal to {_number(shape.min)}"
            raise constraint(value, _coral_path(path), rule)
        if shape.max is not None and value > shape.max:
            raise constraint(
                value, _coral_path(path), f"have value less than or equal to {_number(shape.max)}"
            )


def _fits_type(value, shape: Shape) -> bool:
    kind = shape.kind
    if kind == "document":
        return isinstance(value, dict) or not shape.object_only
    if kind in ("structure", "union", "map"):
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    if kind in ("string", "blob"):
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":  # a JSON decimal such as 5.5 is not an integer member's value
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    raise ValueError(f"unknown shape kind {kind!r}")


def _check_members(value: dict, shape: Shape, path: tuple) -> None:
    for name in [name for name, item in value.items() if item is None]:
        del value[name]  # null is absent, here and for the code that reads the request after us
    known = [name for name in shape.members if name in value]
    if shape.kind == "union" and len(known) != 1:
        # Our wording: botocore refuses such a union client-side, so Bedrock's answer is rarely seen.
        raise validation(
            f"The value at {_bedrock_path(path)} must set exactly one of: {', '.join(shape.members)}."
        )
    for name in shape.required:
        if name not in value:
            raise _missing(path + (name,))
    for name in known:
        _check(value[name], shape.members[name], path + (name,))


def _check_length(value, shape: Shape, path: tuple, repr_value) -> None:
    if shape.min is not None and len(value) < shape.min:
        raise constraint(repr_value(), _coral_path(path), f"have length greater than or equal to {shape.min}")
    if shape.max is not None and len(value) > shape.max:
        raise constraint(repr_value(), _coral_path(path), f"have length less than or equal to {shape.max}")


def _missing(path: tuple) -> BedrockError:
    return validation(
        f"1 validation error detected: Value null at '{_coral_path(path)}' failed to satisfy constraint: "
        "Member must not be null"
    )


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _bedrock_path(path: tuple) -> str:
    """Bedrock's own way: ``messages.0.content.1`` (list members counted from 0)."""
    return ".".join(str(part) for part in path) or "the request body"


def _coral_path(path: tuple) -> str:
    """Coral's way: ``messages.1.member.content.2.member`` (list members counted from 1)."""
    parts = []
    for part in path:
        parts.append(f"{part + 1}.member" if isinstance(part, int) else str(part))
    return ".".join(parts)
