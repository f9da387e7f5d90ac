"""Search inside chat (the OpenGateLLM `search` tool, the console playground): the grounding step with
numbered sources, then what was used rides on the answer: `search_results` in the shape of POST
/v1/search, and `citations` mapping the answer's `[n]` markers back to them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from lockgate.accounting.service import CallContext
from lockgate.conversations.grounding import Grounding
from lockgate.errors import InvalidRequest
from lockgate.gateway.events import ChunkEvent, StreamEvent, UsageEvent
from lockgate.rag.citations import cited, source_label
from lockgate.rag.hits import search_result
from lockgate.rag.schemas import ChunkView, SearchHit, SearchQuery

PROMPT = (
    "Answer the user's question using the numbered sources below when they are relevant. Cite the "
    "sources you use by their number, as [1] or [2]. If the sources do not contain the answer, say so."
    "\n\n{context}"
)


def _question(messages: list[dict[str, Any]]) -> str:
    """The last user message's text ('' when it is empty: then nothing is searched)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content.strip()
            if isinstance(content, list):
                return " ".join(p.get("text") or "" for p in content if isinstance(p, dict)).strip()
            return ""
    raise InvalidRequest("messages: search needs a user message to search for.", param="messages")


def citations_out(text: str, chunks: list[ChunkView]) -> list[dict[str, Any]]:
    """`citations` of a grounded answer: each `[n]` the answer uses, mapped to `search_results[n - 1]`."""
    return [asdict(c) for c in cited(text, chunks)]


class GroundedChat:
    def __init__(self, grounding: Grounding):
        self._grounding = grounding

    async def _ground(
        self, ctx: CallContext, body: dict[str, Any], search: SearchQuery
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[ChunkView]]:
        """(the body with the numbered sources as its first message, search_results, their chunks).
        A search without a query asks the last user message."""
        query = search.query or _question(body["messages"])
        if not query:  # an empty question: answered without searching, as OpenGateLLM does
            return body, [], []
        hits: list[SearchHit] = await self._grounding.retrieve(ctx, search.with_query(query))
        chunks = [hit.chunk for hit in hits]
        context = "\n\n".join(source_label(n, chunk) for n, chunk in enumerate(chunks, start=1))
        grounded = {
            **body,
            "messages": [{"role": "system", "content": PROMPT.format(context=context)}, *body["messages"]],
        }
        return grounded, [search_result(*hit) for hit in hits], chunks

    async def answer(self, ctx: CallContext, body: dict[str, Any], search: SearchQuery) -> dict[str, Any]:
        """The model's answer with `search_results` (the numbered sources, in order) and `citations`."""
        grounded, results, chunks = await self._ground(ctx, body, search)
        answer = (await self._grounding.answer(ctx, grounded)).wire()
        answer["search_results"] = results
        choices = answer.get("choices") or [{}]
        text = (choices[0].get("message") or {}).get("content") or ""
        answer["citations"] = citations_out(text if isinstance(text, str) else "", chunks)
        return answer

    async def stream(
        self, ctx: CallContext, body: dict[str, Any], search: SearchQuery
    ) -> AsyncIterator[StreamEvent]:
        grounded, results, chunks = await self._ground(ctx, body, search)
        events = await self._grounding.stream(ctx, grounded)
        return self._with_results(events, results, chunks)

    @staticmethod
    async def _with_results(
        events: AsyncIterator[StreamEvent], results: list[Any], chunks: list[ChunkView]
    ) -> AsyncIterator[StreamEvent]:
        """`search_results` ride on the first chunk and on the last ones (the finishing chunk and the
        usage chunk, where OpenGateLLM clients read them); `citations` on the finishing chunk."""
        first = True
        text: list[str] = []
        async for event in events:
            if isinstance(event, ChunkEvent):
                if first:
                    event.payload["search_results"] = results
                    first = False
                choices = event.payload.get("choices") or []
                for choice in choices:
                    piece = (choice.get("delta") or {}).get("content")
                    if isinstance(piece, str):
                        text.append(piece)
                if any(choice.get("finish_reason") for choice in choices):
                    event.payload["citations"] = citations_out("".join(text), chunks)
                    # the last chunk when the client asked for no usage chunk
                    event.payload["search_results"] = results
            elif isinstance(event, UsageEvent):
                event.extra = {**(event.extra or {}), "search_results": results}
            yield event
