"""Search inside chat: retrieve from the caller's collections, ground the prompt, answer through the
gateway, and return what was used (`search_results`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from lockgate.accounting.service import CallContext
from lockgate.errors import InvalidRequest
from lockgate.gateway.events import ChunkEvent, StreamEvent
from lockgate.gateway.schemas import Endpoint
from lockgate.gateway.service import GatewayService
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
)
PROMPT = (
    "Answer the user's question using the context below when it is relevant. Cite the sources you use "
    "as [n]. If the context does not contain the answer, say so.\n\n{context}"
)


def search_result(method: str, score: float, chunk: ChunkView) -> dict[str, Any]:
    """One hit in the shape of POST /v1/search (also `search_results` of a grounded chat answer)."""
    return {
        "method": method,
        "score": score,
        "chunk": {
            "object": "chunk",
            "id": chunk.id,
            "collection_id": chunk.collection_id,
            "document_id": chunk.document_id,
            "content": chunk.content,
            "metadata": chunk.metadata,
            "created": chunk.created,
        },
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
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    raise InvalidRequest("messages: search needs a user message to search for.", param="messages")


class GroundedChat:
    def __init__(self, rag: RagService, gateway: GatewayService):
        self._rag = rag
        self._gateway = gateway

    async def _ground(self, ctx: CallContext, body: dict[str, Any], args: dict[str, Any]):
        query = args.pop("query", None) or _question(body["messages"])
        search_ctx = CallContext(ctx.principal, "/v1/search", ctx.method)
        hits, _ = await self._rag.search(search_ctx, query, **args)
        context = "\n\n".join(f"[{n}] {chunk.content}" for n, (_, _, chunk) in enumerate(hits, start=1))
        grounded = {
            **body,
            "messages": [{"role": "system", "content": PROMPT.format(context=context)}, *body["messages"]],
        }
        results = [search_result(method, score, chunk) for method, score, chunk in hits]
        return grounded, results

    async def answer(self, ctx: CallContext, body: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        grounded, results = await self._ground(ctx, body, args)
        answer = await self._gateway.generate(ctx, Endpoint.CHAT, grounded)
        answer["search_results"] = results
        return answer

    async def stream(
        self, ctx: CallContext, body: dict[str, Any], args: dict[str, Any]
    ) -> AsyncIterator[StreamEvent]:
        grounded, results = await self._ground(ctx, body, args)
        events = await self._gateway.generate_stream(ctx, Endpoint.CHAT, grounded)
        return self._with_results(events, results)

    @staticmethod
    async def _with_results(events: AsyncIterator[StreamEvent], results: list) -> AsyncIterator[StreamEvent]:
        first = True
        async for event in events:
            if first and isinstance(event, ChunkEvent):
                event.payload["search_results"] = results  # once, on the first chunk
                first = False
            yield event
