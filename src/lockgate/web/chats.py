"""Chat sessions on a collection (the h2oGPTe conversation service): the answer streams in, then its
references come as pills that open the cited chunk."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from lockgate.accounting.schemas import Usage
from lockgate.accounting.service import CallContext
from lockgate.api.deps import DbId, State
from lockgate.conversations.schemas import AnswerRequest, ReferenceView
from lockgate.errors import AppError
from lockgate.identity.schemas import Principal
from lockgate.state import AppState
from lockgate.web import streams
from lockgate.web.playground import chat_models
from lockgate.web.render import ConsoleRoute, page, redirect
from lockgate.web.session import Viewer

router = APIRouter(route_class=ConsoleRoute)


def _sources(references: list[ReferenceView]) -> list[streams.Source]:
    return [
        streams.Source(n, r.chunk_id, r.document_id, r.collection_id or 0, r.score, r.document_name)
        for n, r in enumerate(references, start=1)
    ]


@router.post("/ui/collections/{collection_id}/chats")
async def new_chat(request: Request, collection_id: DbId, principal: Viewer, state: State) -> Response:
    view = await state.conversations.create(principal, collection_id)
    return redirect(request, f"/ui/chats/{view.id}")


@router.get("/ui/chats/{session_id}")
async def chat(request: Request, session_id: DbId, principal: Viewer, state: State) -> Response:
    view = await state.conversations.get(principal, session_id)
    turns = []
    for item in await state.conversations.messages(principal, session_id):
        references = await state.conversations.references(principal, item.id) if item.references else []
        turns.append((item, _sources(references)))
    return page(request, "chat.html", chat=view, turns=turns, models=chat_models(state, principal))


async def _answer(
    state: AppState, principal: Principal, session_id: int, message: str, model: str | None
) -> AsyncIterator[bytes]:
    """Run the completion in a task that hands each piece over a queue; the references and the usage
    follow the text. Cancelled with the response when the browser goes away."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def on_delta(piece: str) -> None:
        await queue.put(streams.line({"type": "delta", "text": piece}))

    async def run() -> None:
        try:
            ctx = CallContext(principal, "/ui/chats", "POST")
            request = AnswerRequest(message, llm=model or None)
            answer_id = (await state.completions.complete(ctx, session_id, request, on_delta)).message_id
            references = await state.conversations.references(principal, answer_id)
            await queue.put(streams.sources_line(_sources(references)))
            stats: dict[str, Any] = dict(await state.conversations.meta(principal, answer_id, "usage_stats"))
            usage = json.loads(stats.get("usage_stats") or "{}")
            prompt, completion = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
            await queue.put(streams.usage_line(Usage.counted(prompt, completion)))
            await queue.put(streams.line({"type": "done", "message_id": answer_id}))
        except AppError as exc:
            await queue.put(streams.line({"type": "error", "message": exc.message}))
        finally:
            await queue.put(None)

    task = asyncio.create_task(run())
    try:
        while (item := await queue.get()) is not None:
            yield item
    finally:
        if not task.done():
            task.cancel()


@router.post("/ui/chats/{session_id}/ask")
async def ask(
    session_id: DbId,
    principal: Viewer,
    state: State,
    message: Annotated[str, Form(min_length=1, max_length=100_000)],
    model: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    await state.conversations.get(principal, session_id)  # 404 before streaming when not yours
    return StreamingResponse(
        _answer(state, principal, session_id, message, model or None),
        media_type=streams.MEDIA_TYPE,
        headers=streams.HEADERS,
    )
