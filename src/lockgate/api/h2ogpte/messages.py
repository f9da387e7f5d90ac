"""h2oGPTe messages: the references (chunks that were in the answer's prompt) and meta of an answer;
deleting messages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response

from lockgate.api.deps import ChatCaller
from lockgate.api.h2ogpte.chat_views import Conversations, reference_out
from lockgate.api.h2ogpte.common import from_public_id, h2ogpte_router

router = h2ogpte_router("messages")


@router.get("/messages/{message_id}/references")
async def get_message_references(
    conversations: Conversations,
    principal: ChatCaller,
    message_id: str,
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> list[dict[str, Any]]:
    found = await conversations.references(principal, from_public_id("message", message_id), limit)
    return [reference_out(reference) for reference in found]


@router.delete("/messages/{message_ids}", status_code=204)
async def delete_messages(conversations: Conversations, principal: ChatCaller, message_ids: str) -> Response:
    """Comma-separated message ids, as the client joins them."""
    ids = [from_public_id("message", m) for m in message_ids.split(",") if m]
    await conversations.delete_messages(principal, ids)
    return Response(status_code=204)


@router.get("/messages/{message_id}/meta")
async def get_message_meta(
    conversations: Conversations, principal: ChatCaller, message_id: str, info_type: str | None = None
) -> list[dict[str, str]]:
    found = await conversations.meta(principal, from_public_id("message", message_id), info_type)
    return [{"message_type": kind, "content": content} for kind, content in found]
