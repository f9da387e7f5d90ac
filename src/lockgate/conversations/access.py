"""Who may use which chat session and message: its owner, and a collection key only in its collection.
Functions of the caller's transaction, used by every service of the package (no session is passed
from one service to another)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.conversations.models import ChatMessage, ChatSession
from lockgate.errors import NotFound, PermissionDenied
from lockgate.identity.schemas import Principal

KEY_REFUSED = "This is a collection key: it can only chat with its collection."


def confine(principal: Principal, collection_id: int | None) -> None:
    """A collection key reads its own collection only (403 for any other)."""
    if principal.collection_id is not None and collection_id != principal.collection_id:
        raise PermissionDenied(KEY_REFUSED)


def refuse_key(principal: Principal) -> None:
    """403 for a collection key (it may only chat)."""
    if principal.collection_id is not None:
        raise PermissionDenied(KEY_REFUSED)


async def owned_session(session: AsyncSession, principal: Principal, session_id: int) -> ChatSession:
    """The caller's chat session: 404 for anyone else's, 403 for a collection key outside its collection."""
    chat = await session.get(ChatSession, session_id)
    if chat is None or chat.owner_id != principal.user_id:
        raise NotFound(f"Chat session {session_id} not found.")
    confine(principal, chat.collection_id)
    return chat


async def owned_message(session: AsyncSession, principal: Principal, message_id: int) -> ChatMessage:
    """A message of one of the caller's sessions (404 otherwise)."""
    message = await session.get(ChatMessage, message_id)
    if message is None:
        raise NotFound(f"Message {message_id} not found.")
    try:
        await owned_session(session, principal, message.session_id)
    except NotFound:
        raise NotFound(f"Message {message_id} not found.") from None
    return message
