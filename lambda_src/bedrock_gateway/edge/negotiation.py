"""HTTP content negotiation for the streaming routes: which framing an ``Accept`` header asks for."""

from __future__ import annotations

from bedrock_gateway.core.errors import ErrorCode, GatewayError

SSE = "text/event-stream"
NDJSON = "application/x-ndjson"
#: What the stream routes can send, in the server's order of preference (SSE wins a tie).
STREAM_TYPES = (SSE, NDJSON)


def _quality(media_ranges: list[tuple[str, float]], media_type: str) -> float:
    """The q of the most specific range matching ``media_type`` (exact, then ``type/*``, then ``*/*``)."""
    kind = media_type.split("/", 1)[0]
    best: tuple[int, float] | None = None
    for media_range, q in media_ranges:
        specificity = 2 if media_range == media_type else 1 if media_range == f"{kind}/*" else 0
        if media_range in (media_type, f"{kind}/*", "*/*") and (best is None or specificity > best[0]):
            best = (specificity, q)
    return best[1] if best else 0.0


def _parse(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media_range, *parameters = (p.strip() for p in part.split(";"))
        if not media_range:
            continue
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value)))
                except ValueError:
                    q = 0.0
        ranges.append((media_range.lower(), q))
    return ranges


def choose(accept: str | None, offered: tuple[str, ...] = STREAM_TYPES) -> str:
    """The offered type the ``Accept`` header prefers (by q-value; ties go to the first offered).

    No header, or an empty one, accepts anything. Nothing acceptable is a 406 NotAcceptable.
    """
    if not accept or not accept.strip():
        return offered[0]
    ranges = _parse(accept)
    scored = [(_quality(ranges, media_type), -index, media_type) for index, media_type in enumerate(offered)]
    q, _, best = max(scored)
    if q <= 0:
        raise GatewayError(ErrorCode.NOT_ACCEPTABLE, f"this route answers with {' or '.join(offered)}")
    return best
