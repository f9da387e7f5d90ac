"""The gateway's typed stream events → the Responses API's SSE event sequence: response.created,
response.in_progress, per output item response.output_item.added / content_part.added /
output_text.delta / output_text.done / content_part.done / output_item.done (or
function_call_arguments.delta / .done for a function call), then response.completed (or
response.incomplete); `error` when the stream breaks. Each event has a sequence_number."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import orjson

from lockgate.accounting.schemas import Usage
from lockgate.api.openai.responses.render import Draft, citation_annotations, function_call_item, message_item
from lockgate.gateway.events import ChunkEvent, ErrorEvent, StreamEvent, UsageEvent
from lockgate.kit.ids import unique_hex
from lockgate.responses.schemas import Citation

log = logging.getLogger("lockgate.responses")


class _Writer:
    def __init__(self, draft: Draft, citations: list[Citation]):
        self.draft = draft
        self.citations = citations
        self.sequence = 0
        self.open: dict[str, Any] | None = None  # the output item being streamed
        self.open_key: tuple[str, int] | None = None
        self.finish: str | None = None

    def frame(self, name: str, data: dict[str, Any]) -> bytes:
        payload = {"type": name, "sequence_number": self.sequence, **data}
        self.sequence += 1
        return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    @property
    def index(self) -> int:
        return len(self.draft.output) - 1

    def add(self, item: dict[str, Any], key: tuple[str, int] | None) -> list[bytes]:
        out = self.close()
        self.draft.output.append(item)
        self.open, self.open_key = item, key
        out.append(self.frame("response.output_item.added", {"output_index": self.index, "item": item}))
        return out

    def close(self, cut: bool = False) -> list[bytes]:
        """The open item's closing frames; `cut`: the token limit ended it (a message is incomplete)."""
        item = self.open
        if item is None:
            return []
        self.open = self.open_key = None
        where = {"item_id": item["id"], "output_index": self.index}
        out = []
        if item["type"] == "message":
            part = item["content"][0]
            part["annotations"] = citation_annotations(part["text"], self.citations)
            out.append(
                self.frame(
                    "response.output_text.done",
                    {**where, "content_index": 0, "text": part["text"], "logprobs": []},
                )
            )
            out.append(self.frame("response.content_part.done", {**where, "content_index": 0, "part": part}))
        else:
            done = {**where, "name": item["name"], "arguments": item["arguments"]}
            out.append(self.frame("response.function_call_arguments.done", done))
        item["status"] = "incomplete" if cut and item["type"] == "message" else "completed"
        out.append(self.frame("response.output_item.done", {"output_index": self.index, "item": item}))
        return out

    def cut_short(self) -> None:
        """The item being streamed ends where the stream stopped (no frames: nobody is listening)."""
        if self.open is not None:
            self.open["status"] = "incomplete"
            self.open = self.open_key = None

    def text(self, delta: str) -> list[bytes]:
        out: list[bytes] = []
        if self.open_key != ("text", 0):
            item = message_item(f"msg_{unique_hex()}", "", [], "in_progress")
            out += self.add(item, ("text", 0))
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            item["content"] = [part]
            where = {"item_id": item["id"], "output_index": self.index, "content_index": 0}
            out.append(self.frame("response.content_part.added", {**where, "part": dict(part)}))
        assert self.open is not None
        self.open["content"][0]["text"] += delta
        where = {"item_id": self.open["id"], "output_index": self.index, "content_index": 0}
        out.append(self.frame("response.output_text.delta", {**where, "delta": delta, "logprobs": []}))
        return out

    def call(self, call: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        function = call.get("function") or {}
        key = ("call", int(call.get("index") or 0))
        if self.open_key != key:
            call_id = call.get("id") or f"call_{unique_hex()}"
            item = function_call_item(
                f"fc_{unique_hex()}", call_id, function.get("name") or "", "", "in_progress"
            )
            out += self.add(item, key)
        assert self.open is not None
        if arguments := function.get("arguments"):
            self.open["arguments"] += arguments
            where = {"item_id": self.open["id"], "output_index": self.index}
            out.append(self.frame("response.function_call_arguments.delta", {**where, "delta": arguments}))
        return out

    def chunk(self, payload: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        for choice in payload.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if text := delta.get("content"):
                out += self.text(text)
            for call in delta.get("tool_calls") or ():
                out += self.call(call)
            self.finish = choice.get("finish_reason") or self.finish
        return out


async def encode_response_stream(
    draft: Draft,
    events: AsyncIterator[StreamEvent],
    citations: list[Citation],
    on_done: Callable[[dict[str, Any]], Awaitable[None]],
) -> AsyncIterator[bytes]:
    """SSE bytes of one streamed response. `on_done(response)` stores it however the stream ends:
    `completed` (or `incomplete`); `failed` with the error when the upstream breaks; `cancelled` with
    the output streamed so far when the client goes away (the generation is stopped then, and the
    gateway records the usage; the stored response's usage is null, as no count was settled for it)."""
    writer = _Writer(draft, citations)
    yield writer.frame("response.created", {"response": draft.render("in_progress")})
    yield writer.frame("response.in_progress", {"response": draft.render("in_progress")})
    for item in list(draft.output):  # items known before generation (file_search_call)
        index = draft.output.index(item)
        yield writer.frame("response.output_item.added", {"output_index": index, "item": item})
        yield writer.frame("response.output_item.done", {"output_index": index, "item": item})
    settled = Usage()
    ended = False
    try:
        async for event in events:
            if isinstance(event, ChunkEvent):
                for frame in writer.chunk(event.payload):
                    yield frame
            elif isinstance(event, UsageEvent):
                settled = event.usage
            elif isinstance(event, ErrorEvent):
                ended = True
                for frame in writer.close():
                    yield frame
                error = {"code": "server_error", "message": event.message}
                await _keep(on_done, draft.render("failed", None, None, error))
                yield writer.frame("error", {"code": event.code, "message": event.message, "param": None})
                return
        ended = True
    finally:
        if not ended:  # the client went away (or the stream was closed): keep what it was sent
            with anyio.CancelScope(shield=True):
                await events.aclose()  # type: ignore[attr-defined]  # stops the generation, settles usage
                writer.cut_short()
                await _keep(on_done, draft.render("cancelled"))
    for frame in writer.close(cut=writer.finish == "length"):
        yield frame
    if not any(item["type"] in ("message", "function_call") for item in draft.output):
        draft.output.append(message_item(f"msg_{unique_hex()}", "", [], "completed"))
    response = draft.render("completed", settled, writer.finish)
    if not await _keep(on_done, response):  # generated (and billed) but cannot be kept: say so
        yield writer.frame(
            "error", {"code": "store_failed", "message": "The response could not be stored.", "param": None}
        )
        return
    name = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    yield writer.frame(name, {"response": response})


async def _keep(on_done: Callable[[dict[str, Any]], Awaitable[None]], response: dict[str, Any]) -> bool:
    try:
        await on_done(response)
    except Exception:
        log.exception("could not store a streamed response")
        return False
    return True
