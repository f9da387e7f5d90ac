"""h2oGPTe chat sessions: create, list, count, rename, delete, attach a collection or a template, ask
(completions), read messages and suggested questions; and the sessions of a collection or document."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import Body, Query
from fastapi.responses import StreamingResponse

from lockgate.accounting.service import CallContext
from lockgate.api.deps import Caller, ChatCaller, State
from lockgate.api.h2ogpte.chat_views import (
    ChatContext,
    CollectionChange,
    CompletionBody,
    Completions,
    Conversations,
    NameBody,
    TemplateChange,
    Templates,
    keyed_collection,
    message_out,
    session_out,
)
from lockgate.api.h2ogpte.common import from_public_id, h2ogpte_router, to_public_id
from lockgate.api.h2ogpte.library_views import collection_out, library
from lockgate.conversations.completion import CompletionService
from lockgate.conversations.schemas import Answer, AnswerRequest
from lockgate.errors import AppError
from lockgate.identity.schemas import Principal
from lockgate.kit.pagination import MAX_OFFSET

router = h2ogpte_router("chat sessions")

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.post("/chats", status_code=201)
async def create_chat_session(
    conversations: Conversations,
    principal: ChatCaller,
    collection_id: str | None = None,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> dict[str, Any]:
    """`collection_id=default`: a collection key's own collection (what the client's
    create_chat_session_on_default_collection sends)."""
    target = keyed_collection(principal, collection_id) if collection_id else None
    return session_out(await conversations.create(principal, target))


@router.get("/chats")
async def list_chat_sessions(
    conversations: Conversations, principal: ChatCaller, offset: Offset = 0, limit: Limit = 100
) -> list[dict[str, Any]]:
    return [session_out(v) for v in await conversations.list(principal, offset, limit)]


@router.get("/chats/count")
async def get_chat_session_count(conversations: Conversations, principal: ChatCaller) -> dict[str, int]:
    return {"count": await conversations.count(principal)}


@router.get("/chats/{session_id}")
async def get_chat_session(
    conversations: Conversations, principal: ChatCaller, session_id: str
) -> dict[str, Any]:
    return session_out(await conversations.get(principal, from_public_id("chat", session_id)))


@router.patch("/chats/{session_id}")
async def update_chat_session(
    conversations: Conversations, principal: ChatCaller, session_id: str, body: NameBody
) -> dict[str, Any]:
    view = await conversations.update(principal, from_public_id("chat", session_id), {"name": body.name})
    return session_out(view)


@router.delete("/chats/{session_id}")
async def delete_chat_session(
    conversations: Conversations, principal: ChatCaller, session_id: str
) -> dict[str, Any]:
    """The deleted session (the client maps only 204, so a 200 with a body reads as nothing)."""
    return session_out(await conversations.delete(principal, from_public_id("chat", session_id)))


@router.put("/chats/{session_id}/collection")
async def update_chat_session_collection(
    conversations: Conversations, principal: ChatCaller, session_id: str, body: CollectionChange
) -> dict[str, Any]:
    change = {"collection_id": from_public_id("collection", body.collection_id)}
    return session_out(await conversations.update(principal, from_public_id("chat", session_id), change))


@router.delete("/chats/{session_id}/collection")
async def delete_chat_session_collection(
    conversations: Conversations, principal: ChatCaller, session_id: str
) -> dict[str, Any]:
    change = {"collection_id": None}
    return session_out(await conversations.update(principal, from_public_id("chat", session_id), change))


@router.put("/chats/{session_id}/prompt_template")
async def update_chat_session_prompt_template(
    conversations: Conversations, principal: ChatCaller, session_id: str, body: TemplateChange
) -> dict[str, Any]:
    change = {"prompt_template_id": from_public_id("template", body.prompt_template_id)}
    return session_out(await conversations.update(principal, from_public_id("chat", session_id), change))


@router.delete("/chats/{session_id}/prompt_template")
async def delete_chat_session_prompt_template(
    conversations: Conversations, principal: ChatCaller, session_id: str
) -> dict[str, Any]:
    change = {"prompt_template_id": None}
    return session_out(await conversations.update(principal, from_public_id("chat", session_id), change))


@router.post("/chats/{session_id}/completions", response_model=None)
async def get_completion(
    completions: Completions,
    conversations: Conversations,
    ctx: ChatContext,
    session_id: str,
    body: CompletionBody,
) -> dict[str, str] | StreamingResponse:
    """The answer; with `stream: true`, JSON lines of {body: delta, finished: false}, then one
    {message_id, body: full answer, finished: true} (or {error, finished: true} if the model fails)."""
    request = body.answer_request()  # a malformed argument is a 400 before anything is stored
    chat_id = from_public_id("chat", session_id)
    if not body.stream:
        answer = await completions.complete(ctx, chat_id, request)
        return {"message_id": to_public_id("message", answer.message_id), "body": answer.text}
    await conversations.get(ctx.principal, chat_id)  # refusals before the stream starts are HTTP errors
    return StreamingResponse(_deltas(completions, ctx, chat_id, request), media_type="application/jsonl")


async def _deltas(
    completions: CompletionService, ctx: CallContext, chat_id: int, request: AnswerRequest
) -> AsyncIterator[str]:
    send, receive = anyio.create_memory_object_stream[str](100)
    outcome: list[Answer | AppError] = []

    async def produce() -> None:
        async with send:
            try:
                outcome.append(await completions.complete(ctx, chat_id, request, on_delta=send.send))
            except AppError as exc:
                outcome.append(exc)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(produce)
        async with receive:
            async for piece in receive:
                yield json.dumps({"body": piece, "finished": False}) + "\n"
    done = outcome[0] if outcome else None
    if isinstance(done, Answer):
        yield json.dumps(
            {"message_id": to_public_id("message", done.message_id), "body": done.text, "finished": True}
        )
    else:
        error = done.message if done is not None else "failed"
        yield json.dumps({"body": "", "finished": True, "error": error})
    yield "\n"


@router.get("/chats/{session_id}/messages")
async def get_chat_session_messages(
    conversations: Conversations,
    principal: ChatCaller,
    session_id: str,
    offset: Offset = 0,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    found = await conversations.messages(principal, from_public_id("chat", session_id), offset, limit)
    return [message_out(v, principal.email) for v in found]


@router.get("/chats/{session_id}/questions")
async def list_questions_for_chat_session(
    completions: Completions, ctx: ChatContext, session_id: str, limit: Annotated[int, Query(ge=1, le=20)] = 4
) -> list[dict[str, str]]:
    found = await completions.questions(ctx, from_public_id("chat", session_id), limit)
    return [{"question": q} for q in found]


# -- the sessions of a collection or a document ------------------------------------------------------


@router.get("/collections/{collection_id}/chats/count")
async def get_chat_session_count_for_collection(
    conversations: Conversations, principal: Caller, collection_id: str
) -> dict[str, int]:
    return {
        "count": await conversations.count(
            principal, collection_id=from_public_id("collection", collection_id)
        )
    }


@router.get("/collections/{collection_id}/chats")
async def list_chat_sessions_for_collection(
    conversations: Conversations,
    principal: Caller,
    collection_id: str,
    offset: Offset = 0,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    found = await conversations.list(
        principal, offset, limit, collection_id=from_public_id("collection", collection_id)
    )
    return [session_out(v) for v in found]


@router.get("/documents/{document_id}/chats/count")
async def get_chat_session_count_for_document(
    conversations: Conversations, principal: Caller, document_id: str
) -> dict[str, int]:
    return {
        "count": await conversations.count(principal, document_id=from_public_id("document", document_id))
    }


@router.get("/documents/{document_id}/chats")
async def list_chat_sessions_for_document(
    conversations: Conversations, principal: Caller, document_id: str, offset: Offset = 0, limit: Limit = 100
) -> list[dict[str, Any]]:
    found = await conversations.list(
        principal, offset, limit, document_id=from_public_id("document", document_id)
    )
    return [session_out(v) for v in found]


@router.put("/collections/{collection_id}/prompt_template")
async def update_collection_prompt_template(
    state: State, templates: Templates, principal: Caller, collection_id: str, body: TemplateChange
) -> dict[str, Any]:
    cid = from_public_id("collection", collection_id)
    await templates.set_for_collection(principal, cid, from_public_id("template", body.prompt_template_id))
    return await _collection_out(state, principal, cid)


@router.delete("/collections/{collection_id}/prompt_template")
async def delete_collection_prompt_template(
    state: State, templates: Templates, principal: Caller, collection_id: str
) -> dict[str, Any]:
    cid = from_public_id("collection", collection_id)
    await templates.set_for_collection(principal, cid, None)
    return await _collection_out(state, principal, cid)


async def _collection_out(state: State, principal: Principal, collection_id: int) -> dict[str, Any]:
    """The collection in the shape of the collections routes (which own it)."""
    return collection_out(await library(state).info(principal, collection_id))
