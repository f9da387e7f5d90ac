"""The gateway's typed stream events → Anthropic's Messages SSE: message_start, ping,
content_block_start / content_block_delta / content_block_stop per text or tool_use block,
message_delta (stop reason, usage), message_stop; an `error` event when the stream breaks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from lockgate.accounting.schemas import Usage
from lockgate.api.anthropic.translate import anthropic_usage, stopped
from lockgate.api.errors import anthropic_error_type
from lockgate.gateway.events import ChunkEvent, ErrorEvent, StreamEvent, UsageEvent


def frame(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name, **data}) + b"\n\n"


class _Blocks:
    """Which content block is open: text, or the tool call with a given upstream index."""

    def __init__(self) -> None:
        self.index = -1
        self.open: tuple[str, int] | None = None  # ("text", 0) or ("tool", upstream tool index)

    def switch(self, key: tuple[str, int], start: dict[str, Any]) -> list[bytes]:
        if self.open == key:
            return []
        out = self.close()
        self.index += 1
        self.open = key
        out.append(frame("content_block_start", {"index": self.index, "content_block": start}))
        return out

    def close(self) -> list[bytes]:
        if self.open is None:
            return []
        self.open = None
        return [frame("content_block_stop", {"index": self.index})]

    def delta(self, delta: dict[str, Any]) -> bytes:
        return frame("content_block_delta", {"index": self.index, "delta": delta})


def _chunk_frames(payload: dict[str, Any], blocks: _Blocks) -> tuple[list[bytes], dict[str, Any] | None]:
    """The frames of one chunk, and its choice when that choice finishes."""
    out: list[bytes] = []
    finish: dict[str, Any] | None = None
    for choice in payload.get("choices") or ():
        if choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta") or {}
        if text := delta.get("content"):
            out += blocks.switch(("text", 0), {"type": "text", "text": ""})
            out.append(blocks.delta({"type": "text_delta", "text": text}))
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or {}
            start: dict[str, Any] = {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{blocks.index + 1}",
                "name": function.get("name") or "",
                "input": {},
            }
            out += blocks.switch(("tool", int(call.get("index") or 0)), start)
            if arguments := function.get("arguments"):
                out.append(blocks.delta({"type": "input_json_delta", "partial_json": arguments}))
        if choice.get("finish_reason"):
            finish = choice
    return out, finish


async def encode_message_stream(
    events: AsyncIterator[StreamEvent],
    message_id: str,
    model: str,
    input_estimate: int,
    stop_sequences: list[str] | None = None,
) -> AsyncIterator[bytes]:
    """Anthropic SSE bytes for one message. Usage in message_start is an estimate (the provider reports
    the real counts at the end); message_delta carries the settled input and output tokens."""
    start: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_estimate, "output_tokens": 0},
    }
    yield frame("message_start", {"message": start})
    yield frame("ping", {})
    blocks = _Blocks()
    finish: dict[str, Any] = {}
    usage = Usage()
    async for event in events:
        if isinstance(event, ChunkEvent):
            frames, reason = _chunk_frames(event.payload, blocks)
            finish = reason or finish
            for item in frames:
                yield item
        elif isinstance(event, UsageEvent):
            usage = event.usage
        elif isinstance(event, ErrorEvent):
            for item in blocks.close():
                yield item
            status = 504 if event.code == "upstream_timeout" else 502
            error = {"type": anthropic_error_type(status), "message": event.message}
            yield frame("error", {"error": error})
            return
    for item in blocks.close():
        yield item
    delta = stopped(finish, stop_sequences)
    yield frame("message_delta", {"delta": delta, "usage": anthropic_usage(usage)})
    yield frame("message_stop", {})
