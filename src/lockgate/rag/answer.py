"""Search inside chat: retrieve from the caller's collections, ground the prompt, answer through the
gateway, and return what was used (`search_results`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from lockgate.accounting.service import CallContext
from lockgate.errors import InvalidRequest
from lockgate.gateway.events import ChunkEvent, StreamEvent, UsageEvent
from lockgate.gateway.request import read_chat
from lockgate.gateway.service import GatewayService
from lockgate.rag.citations import cited, source_label
from lockgate.rag.service import ChunkView, RagService

SEARCH_FIELDS = (
    "collection_ids",
    "document_ids",
    "metadata_filters",
    "limit",
    "offset",
    "method",
    "rff_k",
    "score_threshold",
    "fusion",
    "semantic_weight",
    "rerank_model",
)
PROMPT = (
    "Answer the user's question using the numbered sources below when they are relevant. Cite the "
    "sources you use by their number, as [1] or [2]. If the sources do not contain the answer, say so."
    "\n\n{context}"
)


def chunk_wire(chunk: ChunkView) -> dict[str, Any]:
    """A chunk as OpenGateLLM shows it: numbered within its document, the user's metadata as sent
    (null if none), and the PDF page beside it."""
    return {
        "object": "chunk",
        "id": chunk.position,
        "collection_id": chunk.collection_id,
        "document_id": chunk.document_id,
        "content": chunk.content,
        "metadata": chunk.metadata,
        "page": chunk.page,
        "created": chunk.created,
    }


def search_result(method: str, score: float, chunk: ChunkView) -> dict[str, Any]:
    """One hit in the shape of POST /v1/search (also `search_results` of a grounded chat answer).
    `document_name` and `page` (int or null) are extra keys beside OpenGateLLM's `method`, `score` and
    `chunk`, so a client can show the citation without another call."""
    return {
        "method": method,
        "score": score,
        "document_name": chunk.document_name,
        "page": chunk.page,
        "chunk": chunk_wire(chunk),
    }


def search_request(body: dict[str, Any]) -> dict[str, Any] | None:
    """The search arguments of a chat request — `tools: [{"type": "search", ...}]`, or the deprecated
    `search: true` + `search_args` — or None. The search tool is removed from the body."""
    tools = body.get("tools") or []
    search_tools = [t for t in tools if isinstance(t, dict) and t.get("type") == "search"]
    if search_tools:
        body["tools"] = [t for t in tools if t not in search_tools] or None
        if body["tools"] is None:
            body.pop("tools")
            body.pop("tool_choice", None)
        args = {k: v for k, v in search_tools[0].items() if k != "type"}
    elif body.pop("search", None):
        args = dict(body.get("search_args") or {})
        # OpenGateLLM's older names: `collections` for `collection_ids`; `k` is no longer used
        if "collections" in args:
            args.setdefault("collection_ids", args.pop("collections"))
        args.pop("k", None)
    else:
        body.pop("search_args", None)
        return None
    body.pop("search", None)
    body.pop("search_args", None)
    unknown = set(args) - set(SEARCH_FIELDS) - {"query"}
    if unknown:
        raise InvalidRequest(f"search: unknown field(s) {', '.join(sorted(unknown))}.", param="tools")
    return args


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
    def __init__(self, rag: RagService, gateway: GatewayService):
        self._rag = rag
        self._gateway = gateway

    async def _ground(self, ctx: CallContext, body: dict[str, Any], args: dict[str, Any]):
        query = args.pop("query", None) or _question(body["messages"])
        if not query:  # an empty question: answered without searching, as OpenGateLLM does
            return body, [], []
        search_ctx = CallContext(ctx.principal, "/v1/search", ctx.method)
        hits, _ = await self._rag.search(search_ctx, query, **args)
        chunks = [chunk for _, _, chunk in hits]
        context = "\n\n".join(source_label(n, chunk) for n, chunk in enumerate(chunks, start=1))
        grounded = {
            **body,
            "messages": [{"role": "system", "content": PROMPT.format(context=context)}, *body["messages"]],
        }
        results = [search_result(method, score, chunk) for method, score, chunk in hits]
        return grounded, results, chunks

    async def answer(self, ctx: CallContext, body: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        """The model's answer with `search_results` (the numbered sources, in order) and `citations`."""
        grounded, results, chunks = await self._ground(ctx, body, args)
        answer = (await self._gateway.generate(ctx, read_chat(grounded))).wire()
        answer["search_results"] = results
        choices = answer.get("choices") or [{}]
        text = (choices[0].get("message") or {}).get("content") or ""
        answer["citations"] = citations_out(text if isinstance(text, str) else "", chunks)
        return answer

    async def stream(
        self, ctx: CallContext, body: dict[str, Any], args: dict[str, Any]
    ) -> AsyncIterator[StreamEvent]:
        grounded, results, chunks = await self._ground(ctx, body, args)
        events = await self._gateway.generate_stream(ctx, read_chat(grounded))
        return self._with_results(events, results, chunks)

    @staticmethod
    async def _with_results(
        events: AsyncIterator[StreamEvent], results: list, chunks: list[ChunkView]
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
