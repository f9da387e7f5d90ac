"""Typed answer events → NDJSON lines for console.js: the console's only stream bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from lockgate.accounting.schemas import Usage
from lockgate.gateway.events import ChunkEvent, ErrorEvent, StreamEvent, UsageEvent

MEDIA_TYPE = "application/x-ndjson"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@dataclass(frozen=True, slots=True)
class Source:
    """A chunk laid into the prompt, numbered as the model was told to cite it ([n])."""

    n: int
    chunk_id: int
    document_id: int
    collection_id: int
    score: float
    name: str


def line(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload) + b"\n"


def sources_line(sources: list[Source]) -> bytes:
    return line({"type": "sources", "sources": [asdict(s) for s in sources]})


def usage_line(usage: Usage) -> bytes:
    settled, carbon = usage.cost is not None, usage.carbon
    return line(
        {
            "type": "usage",
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "cost": usage.cost or 0.0,
            "kgco2eq_min": carbon.kgco2_min if settled else None,
            "kgco2eq_max": carbon.kgco2_max if settled else None,
            "kwh_min": carbon.kwh_min if settled else None,
            "kwh_max": carbon.kwh_max if settled else None,
        }
    )


async def encode(
    events: AsyncIterator[StreamEvent],
    describe: Callable[[list[dict[str, Any]]], Awaitable[list[Source]]] | None = None,
) -> AsyncIterator[bytes]:
    """Text deltas, the usage, then `done` — or an error line. A grounded answer's first chunk carries
    its `search_results`: `describe` turns them into numbered sources, sent before the text."""
    async for event in events:
        if isinstance(event, ChunkEvent):
            results = event.payload.get("search_results")
            if results is not None and describe is not None:
                yield sources_line(await describe(results))
            for choice in event.payload.get("choices") or ():
                text = (choice.get("delta") or {}).get("content")
                if text:
                    yield line({"type": "delta", "text": text})
        elif isinstance(event, UsageEvent):
            yield usage_line(event.usage)
        elif isinstance(event, ErrorEvent):
            yield line({"type": "error", "message": event.message})
            return
    yield line({"type": "done"})
