"""The playground: a chat model the caller may use, a system prompt, parameters, a streamed answer
with its tokens, cost and carbon — optionally grounded on the caller's collections, with the cited
chunks. Everything goes through the gateway (limits, usage, cost and carbon apply)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import StreamingResponse
from pydantic import Field
from starlette.responses import Response

from lockgate.accounting.service import CallContext
from lockgate.api.deps import State
from lockgate.gateway.request import read_chat
from lockgate.gateway.schemas import ENDPOINT_MODEL_TYPES, Endpoint
from lockgate.identity.schemas import Principal
from lockgate.kit.pagination import Page
from lockgate.rag.schemas import SearchQuery
from lockgate.state import AppState
from lockgate.web import streams
from lockgate.web.render import ConsoleRoute, page
from lockgate.web.session import Viewer

router = APIRouter(route_class=ConsoleRoute)
ENDPOINT = "/ui/playground"
ALL_COLLECTIONS = Page(offset=0, limit=100, order_by="name")
CollectionId = Annotated[int, Field(ge=1, le=2**31 - 1)]


def chat_models(state: AppState, principal: Principal) -> list[str]:
    """The chat models this caller may use (a role limit of 0 bars a model)."""
    kinds = ENDPOINT_MODEL_TYPES[Endpoint.CHAT]
    return [
        r.name
        for r in state.gateway.registry.routers()
        if r.type in kinds and not principal.blocked_from(r.id)
    ]


def sources_namer(
    state: AppState, principal: Principal
) -> Callable[[list[dict[str, Any]]], Awaitable[list[streams.Source]]]:
    async def describe(results: list[dict[str, Any]]) -> list[streams.Source]:
        names: dict[int, str] = {}
        for result in results:
            document_id = result["chunk"]["document_id"]
            if document_id not in names:
                names[document_id] = (await state.rag.get_document(principal, document_id)).name
        # search_results number chunks within their document (OpenGateLLM); the console's chunk
        # links carry global ids
        ids = [
            (await state.rag.get_chunk(principal, r["chunk"]["document_id"], r["chunk"]["id"])).id
            for r in results
        ]
        return [
            streams.Source(
                n,
                ids[n - 1],
                r["chunk"]["document_id"],
                r["chunk"]["collection_id"],
                float(r["score"]),
                names[r["chunk"]["document_id"]],
            )
            for n, r in enumerate(results, start=1)
        ]

    return describe


@router.get("/ui/playground")
async def playground(request: Request, principal: Viewer, state: State) -> Response:
    collections = await state.rag.list_collections(principal, ALL_COLLECTIONS)
    return page(
        request,
        "playground.html",
        models=chat_models(state, principal),
        collections=[c for c, _ in collections],
    )


@router.post("/ui/playground/stream")
async def stream(
    principal: Viewer,
    state: State,
    model: Annotated[str, Form(min_length=1, max_length=255)],
    prompt: Annotated[str, Form(min_length=1, max_length=100_000)],
    system: Annotated[str, Form(max_length=100_000)] = "",
    temperature: Annotated[float, Form(ge=0, le=2)] = 0.7,
    max_tokens: Annotated[int, Form(ge=1, le=32_768)] = 256,
    top_p: Annotated[float, Form(gt=0, le=1)] = 1.0,
    collections: Annotated[list[CollectionId] | None, Form()] = None,
    method: Annotated[str, Form(pattern="^(semantic|lexical|hybrid)$")] = "hybrid",
    chunks: Annotated[int, Form(ge=1, le=20)] = 4,
) -> Response:
    messages = [{"role": "system", "content": system}] if system.strip() else []
    body: dict[str, Any] = {
        "model": model,
        "messages": [*messages, {"role": "user", "content": prompt}],
        "temperature": temperature,
        "max_tokens": max_tokens,
        "top_p": top_p,
        "stream": True,
    }
    ctx = CallContext(principal, ENDPOINT, "POST")
    if collections:
        search = SearchQuery(method=method, collection_ids=list(collections), limit=chunks)
        events = await state.grounded_chat.stream(ctx, body, search)
        encoded = streams.encode(events, sources_namer(state, principal))
    else:
        encoded = streams.encode(await state.gateway.generate_stream(ctx, read_chat(body)))
    return StreamingResponse(encoded, media_type=streams.MEDIA_TYPE, headers=streams.HEADERS)
