"""Rules of chat sessions and their messages: who may see and change which session. A collection key
may only create and use sessions of its own collection; everything else is refused for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lockgate.conversations import repository
from lockgate.conversations.models import ChatMessage, ChatSession, MessageReference, PromptTemplate
from lockgate.errors import NotFound, PermissionDenied
from lockgate.identity.schemas import Principal
from lockgate.kit.clock import now_ts
from lockgate.kit.db import Database
from lockgate.rag.service import RagService

KEY_REFUSED = "This is a collection key: it can only chat with its collection."


@dataclass(frozen=True, slots=True)
class SessionView:
    session: ChatSession
    collection_name: str | None
    latest_message: str | None
    username: str


@dataclass(frozen=True, slots=True)
class MessageView:
    message: ChatMessage
    references: int


def confine(principal: Principal, collection_id: int) -> None:
    """A collection key reads its own collection only (403 for any other)."""
    if principal.collection_id is not None and collection_id != principal.collection_id:
        raise PermissionDenied(KEY_REFUSED)


def refuse_key(principal: Principal) -> None:
    if principal.collection_id is not None:
        raise PermissionDenied(KEY_REFUSED)


class ConversationService:
    def __init__(self, db: Database, rag: RagService):
        self._db = db
        self._rag = rag

    # -- access ------------------------------------------------------------------------------------

    async def owned(self, session, principal: Principal, session_id: int) -> ChatSession:
        chat = await session.get(ChatSession, session_id)
        if chat is None or chat.owner_id != principal.user_id:
            raise NotFound(f"Chat session {session_id} not found.")
        if principal.collection_id is not None and chat.collection_id != principal.collection_id:
            raise PermissionDenied(KEY_REFUSED)
        return chat

    async def _message(self, session, principal: Principal, message_id: int) -> ChatMessage:
        message = await session.get(ChatMessage, message_id)
        if message is None:
            raise NotFound(f"Message {message_id} not found.")
        try:
            await self.owned(session, principal, message.session_id)
        except NotFound:
            raise NotFound(f"Message {message_id} not found.") from None
        return message

    async def _views(self, session, principal: Principal, chats: list[ChatSession]) -> list[SessionView]:
        names = await repository.collection_names(
            session, {c.collection_id for c in chats if c.collection_id}
        )
        latest = await repository.latest_messages(session, [c.id for c in chats])
        return [
            SessionView(c, names.get(c.collection_id or -1), latest.get(c.id), principal.email) for c in chats
        ]

    # -- sessions ----------------------------------------------------------------------------------

    async def create(self, principal: Principal, collection_id: int | None) -> SessionView:
        if principal.collection_id is not None and collection_id != principal.collection_id:
            raise PermissionDenied(KEY_REFUSED)
        if collection_id is not None:
            await self._rag.get_collection(principal, collection_id)  # 404 when not readable
        async with self._db.transaction() as session:
            chat = ChatSession(owner_id=principal.user_id, collection_id=collection_id)
            session.add(chat)
            await session.flush()
            return (await self._views(session, principal, [chat]))[0]

    async def get(self, principal: Principal, session_id: int) -> SessionView:
        async with self._db.transaction() as session:
            chat = await self.owned(session, principal, session_id)
            return (await self._views(session, principal, [chat]))[0]

    async def list(
        self,
        principal: Principal,
        offset: int,
        limit: int,
        collection_id: int | None = None,
        document_id: int | None = None,
    ) -> list[SessionView]:
        refuse_key(principal)
        await self._check_scope(principal, collection_id, document_id)
        async with self._db.transaction() as session:
            chats = await repository.list_sessions(
                session, principal.user_id, offset, limit, collection_id, document_id
            )
            return await self._views(session, principal, chats)

    async def count(
        self, principal: Principal, collection_id: int | None = None, document_id: int | None = None
    ) -> int:
        refuse_key(principal)
        await self._check_scope(principal, collection_id, document_id)
        async with self._db.transaction() as session:
            return await repository.count_sessions(session, principal.user_id, collection_id, document_id)

    async def _check_scope(
        self, principal: Principal, collection_id: int | None, document_id: int | None
    ) -> None:
        if collection_id is not None:
            await self._rag.get_collection(principal, collection_id)
        if document_id is not None:
            await self._rag.get_document(principal, document_id)

    async def update(self, principal: Principal, session_id: int, changes: dict[str, Any]) -> SessionView:
        """Rename, or (re)attach a collection or a prompt template (None detaches)."""
        refuse_key(principal)
        if changes.get("collection_id") is not None:
            await self._rag.get_collection(principal, changes["collection_id"])
        async with self._db.transaction() as session:
            chat = await self.owned(session, principal, session_id)
            if changes.get("prompt_template_id") is not None:
                await self._template(session, principal, changes["prompt_template_id"])
            for field, value in changes.items():
                setattr(chat, field, value)
            chat.updated = now_ts()
            await session.flush()
            return (await self._views(session, principal, [chat]))[0]

    async def delete(self, principal: Principal, session_id: int) -> SessionView:
        refuse_key(principal)
        async with self._db.transaction() as session:
            chat = await self.owned(session, principal, session_id)
            view = (await self._views(session, principal, [chat]))[0]
            await session.delete(chat)
            return view

    # -- messages ----------------------------------------------------------------------------------

    async def messages(
        self, principal: Principal, session_id: int, offset: int = 0, limit: int | None = None
    ) -> list[MessageView]:
        async with self._db.transaction() as session:
            await self.owned(session, principal, session_id)
            found = await repository.list_messages(session, session_id, offset, limit)
            counts = await repository.reference_counts(session, [m.id for m in found])
            return [MessageView(m, counts.get(m.id, 0)) for m in found]

    async def delete_messages(self, principal: Principal, message_ids: list[int]) -> None:
        """Delete messages of the caller's sessions (their references go with them); all or none: an
        id that is not the caller's is a 404 and nothing is deleted."""
        async with self._db.transaction() as session:
            for message_id in message_ids:
                await session.delete(await self._message(session, principal, message_id))

    async def references(
        self, principal: Principal, message_id: int, limit: int | None = None
    ) -> list[tuple[MessageReference, bool]]:
        """The chunks that were in the answer's prompt, best first, each with whether it was deleted since."""
        async with self._db.transaction() as session:
            await self._message(session, principal, message_id)
            found = await repository.list_references(session, message_id)
            found = found[:limit] if limit else found
            alive = await repository.existing_chunks(session, [r.chunk_id for r in found])
            return [(r, r.chunk_id not in alive) for r in found]

    async def meta(
        self, principal: Principal, message_id: int, info_type: str | None
    ) -> list[tuple[str, str]]:
        async with self._db.transaction() as session:
            message = await self._message(session, principal, message_id)
            items = sorted((message.meta or {}).items())
            return [(k, v) for k, v in items if info_type in (None, "", k)]

    # -- prompt templates (shared helpers) --------------------------------------------------------

    async def _template(self, session, principal: Principal, template_id: int) -> PromptTemplate:
        template = await repository.template_visible(session, principal.user_id, template_id)
        if template is None:
            raise NotFound(f"Prompt template {template_id} not found.")
        return template
