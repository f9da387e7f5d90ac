"""Rules of chat sessions and their messages: who may see and change which session. A collection key
may only create and use sessions of its own collection; everything else is refused for it."""

from __future__ import annotations

import builtins  # the `list` method shadows the builtin in the annotations after it
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.conversations import repository
from lockgate.conversations.access import confine, owned_message, owned_session, refuse_key
from lockgate.conversations.models import ChatMessage, ChatSession, PromptTemplate
from lockgate.conversations.schemas import MessageView, ReferenceView, SessionView
from lockgate.errors import NotFound
from lockgate.identity.schemas import Principal
from lockgate.kit.clock import now_ts
from lockgate.kit.db import Database
from lockgate.rag.access import accessible_document, readable_collection


class ConversationService:
    def __init__(self, db: Database):
        self._db = db

    async def _views(
        self, session: AsyncSession, principal: Principal, chats: list[ChatSession]
    ) -> list[SessionView]:
        names = await repository.collection_names(
            session, {c.collection_id for c in chats if c.collection_id}
        )
        latest = await repository.latest_messages(session, [c.id for c in chats])
        return [
            SessionView(
                c.id,
                c.name,
                c.collection_id,
                names.get(c.collection_id or -1),
                c.prompt_template_id,
                latest.get(c.id),
                c.updated,
                principal.email,
            )
            for c in chats
        ]

    # -- sessions ----------------------------------------------------------------------------------

    async def create(self, principal: Principal, collection_id: int | None) -> SessionView:
        confine(principal, collection_id)
        async with self._db.transaction() as session:
            if collection_id is not None:
                await readable_collection(session, principal, collection_id)  # 404 when not readable
            chat = ChatSession(owner_id=principal.user_id, collection_id=collection_id)
            session.add(chat)
            await session.flush()
            return (await self._views(session, principal, [chat]))[0]

    async def get(self, principal: Principal, session_id: int) -> SessionView:
        async with self._db.transaction() as session:
            chat = await owned_session(session, principal, session_id)
            return (await self._views(session, principal, [chat]))[0]

    async def list(
        self,
        principal: Principal,
        offset: int,
        limit: int,
        collection_id: int | None = None,
        document_id: int | None = None,
    ) -> builtins.list[SessionView]:
        refuse_key(principal)
        async with self._db.transaction() as session:
            await _check_scope(session, principal, collection_id, document_id)
            chats = await repository.list_sessions(
                session, principal.user_id, offset, limit, collection_id, document_id
            )
            return await self._views(session, principal, chats)

    async def count(
        self, principal: Principal, collection_id: int | None = None, document_id: int | None = None
    ) -> int:
        refuse_key(principal)
        async with self._db.transaction() as session:
            await _check_scope(session, principal, collection_id, document_id)
            return await repository.count_sessions(session, principal.user_id, collection_id, document_id)

    async def update(self, principal: Principal, session_id: int, changes: dict[str, Any]) -> SessionView:
        """Rename, or (re)attach a collection or a prompt template (None detaches)."""
        refuse_key(principal)
        async with self._db.transaction() as session:
            if changes.get("collection_id") is not None:
                await readable_collection(session, principal, changes["collection_id"])
            chat = await owned_session(session, principal, session_id)
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
            chat = await owned_session(session, principal, session_id)
            view = (await self._views(session, principal, [chat]))[0]
            await session.delete(chat)
            return view

    async def session_counts(self, collection_ids: builtins.list[int]) -> dict[int, int]:
        """Chat sessions per collection (every user's), for collection summaries; absent when none."""
        async with self._db.transaction() as session:
            return await repository.session_counts(session, collection_ids)

    # -- messages ----------------------------------------------------------------------------------

    async def messages(
        self, principal: Principal, session_id: int, offset: int = 0, limit: int | None = None
    ) -> builtins.list[MessageView]:
        async with self._db.transaction() as session:
            await owned_session(session, principal, session_id)
            found = await repository.list_messages(session, session_id, offset, limit)
            counts = await repository.reference_counts(session, [m.id for m in found])
            return [message_view(m, counts.get(m.id, 0)) for m in found]

    async def delete_messages(self, principal: Principal, message_ids: builtins.list[int]) -> None:
        """Delete messages of the caller's sessions (their references go with them); all or none: an
        id that is not the caller's is a 404 and nothing is deleted."""
        async with self._db.transaction() as session:
            for message_id in message_ids:
                await session.delete(await owned_message(session, principal, message_id))

    async def references(
        self, principal: Principal, message_id: int, limit: int | None = None
    ) -> builtins.list[ReferenceView]:
        """The chunks that were in the answer's prompt, best first, each with whether it was deleted since."""
        async with self._db.transaction() as session:
            await owned_message(session, principal, message_id)
            found = await repository.list_references(session, message_id)
            found = found[:limit] if limit else found
            alive = await repository.existing_chunks(session, [r.chunk_id for r in found])
            return [
                ReferenceView(
                    r.chunk_id,
                    r.document_id,
                    r.collection_id,
                    r.document_name,
                    r.score,
                    r.pages,
                    r.content,
                    r.chunk_id not in alive,
                )
                for r in found
            ]

    async def meta(
        self, principal: Principal, message_id: int, info_type: str | None
    ) -> builtins.list[tuple[str, str]]:
        async with self._db.transaction() as session:
            message = await owned_message(session, principal, message_id)
            items = sorted((message.meta or {}).items())
            return [(k, v) for k, v in items if info_type in (None, "", k)]

    # -- prompt templates (shared helpers) --------------------------------------------------------

    async def _template(
        self, session: AsyncSession, principal: Principal, template_id: int
    ) -> PromptTemplate:
        template = await repository.template_visible(session, principal.user_id, template_id)
        if template is None:
            raise NotFound(f"Prompt template {template_id} not found.")
        return template


def message_view(message: ChatMessage, references: int) -> MessageView:
    return MessageView(
        message.id,
        message.session_id,
        message.reply_to,
        message.content,
        message.error,
        message.votes,
        dict(message.llm_args or {}),
        dict(message.meta or {}),
        message.created,
        references,
    )


async def _check_scope(
    session: AsyncSession, principal: Principal, collection_id: int | None, document_id: int | None
) -> None:
    """404 unless the caller may read the collection and the document a listing is limited to."""
    if collection_id is not None:
        await readable_collection(session, principal, collection_id)
    if document_id is not None:
        await accessible_document(session, principal, document_id)
