"""Typed stream events → Server-Sent Events bytes. The only place stream bytes are produced."""

from collections.abc import AsyncIterator

import orjson

from lockgate.gateway.events import ChunkEvent, ErrorEvent, StreamEvent, UsageEvent

DONE = b"data: [DONE]\n\n"


def _frame(payload: dict) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


async def encode_sse(events: AsyncIterator[StreamEvent], object_name: str) -> AsyncIterator[bytes]:
    """Chunks as they come, one usage chunk (empty choices) at the end, then [DONE].
    A broken stream ends with an error frame and no [DONE], so clients cannot mistake it for a finish."""
    last: dict = {}
    async for event in events:
        if isinstance(event, ChunkEvent):
            last = event.payload
            yield _frame(event.payload)
        elif isinstance(event, UsageEvent):
            yield _frame(
                {
                    "id": last.get("id"),
                    "object": object_name,
                    "created": last.get("created"),
                    "model": last.get("model"),
                    "choices": [],
                    "usage": event.usage,
                }
            )
        elif isinstance(event, ErrorEvent):
            yield _frame(
                {"error": {"message": event.message, "type": event.type, "param": None, "code": event.code}}
            )
            return
    yield DONE
