"""Typed stream events → Server-Sent Events bytes. The only place stream bytes are produced."""

from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from lockgate.gateway.events import ChunkEvent, ErrorEvent, StreamEvent, UsageEvent

DONE = b"data: [DONE]\n\n"


def _frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def wants_usage(stream_options: Mapping[str, Any] | None, always: bool) -> bool:
    """OpenAI's contract: a usage chunk only when the client asked (`stream_options.include_usage`);
    the `stream_usage_always` setting keeps it on for clients written against older Lockgate."""
    return always or bool((stream_options or {}).get("include_usage"))


async def encode_sse(
    events: AsyncIterator[StreamEvent], object_name: str, include_usage: bool
) -> AsyncIterator[bytes]:
    """Chunks as they come, then (if `include_usage`) one usage chunk with empty choices, then [DONE].
    Usage is recorded by the gateway either way. A broken stream ends with an error frame and no [DONE],
    so clients cannot mistake it for a finish."""
    last: dict[str, Any] = {}
    async for event in events:
        if isinstance(event, ChunkEvent):
            last = event.payload
            yield _frame(event.payload)
        elif isinstance(event, UsageEvent) and include_usage:
            yield _frame(
                {
                    "id": last.get("id"),
                    "object": object_name,
                    "created": last.get("created"),
                    "model": last.get("model"),
                    "choices": [],
                    "usage": event.usage.wire(),
                    **(event.extra or {}),
                }
            )
        elif isinstance(event, ErrorEvent):
            yield _frame(
                {"error": {"message": event.message, "type": event.type, "param": None, "code": event.code}}
            )
            return
    yield DONE
