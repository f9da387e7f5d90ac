"""Retrieve → prompt → answer: the one grounding step of every chat that answers from collections.
Search-in-chat (the `search` tool of /v1/chat/completions, the console playground) and h2oGPTe chat
sessions both search the caller's readable collections (metered as a /v1/search call), lay the hits into
the prompt in their own layout, and call the chat model through the gateway, so limits, usage and
carbon apply as to any chat call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from lockgate.accounting.service import CallContext
from lockgate.errors import UpstreamBadGateway
from lockgate.gateway.events import StreamEvent
from lockgate.gateway.request import read_chat
from lockgate.gateway.schemas import Generation
from lockgate.gateway.service import GatewayService
from lockgate.rag.schemas import SearchHit, SearchQuery
from lockgate.rag.service import RagService

SEARCH_ENDPOINT = "/v1/search"


class Grounding:
    def __init__(self, rag: RagService, gateway: GatewayService):
        self._rag = rag
        self._gateway = gateway

    def default_model(self) -> str:
        """The chat model answers use when the caller names none (502 when none is served)."""
        model = self._gateway.registry.default_chat_model()
        if model is None:
            raise UpstreamBadGateway("No chat model is configured.")
        return model

    async def retrieve(self, ctx: CallContext, search: SearchQuery) -> list[SearchHit]:
        """The best chunks for the search among the collections the caller can read."""
        search_ctx = CallContext(ctx.principal, SEARCH_ENDPOINT, ctx.method)
        hits, _ = await self._rag.search(search_ctx, search)
        return hits

    async def answer(self, ctx: CallContext, body: dict[str, Any]) -> Generation:
        """The chat model's answer to the grounded chat body (OpenAI shape), with its settled usage."""
        return await self._gateway.generate(ctx, read_chat(body))

    async def stream(self, ctx: CallContext, body: dict[str, Any]) -> AsyncIterator[StreamEvent]:
        """The chat model's answer to the grounded chat body, as typed stream events."""
        return await self._gateway.generate_stream(ctx, read_chat({**body, "stream": True}))
