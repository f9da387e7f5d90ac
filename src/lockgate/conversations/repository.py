"""All SQL of conversations: chat sessions, messages, references and prompt templates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.conversations.models import (
    ChatMessage,
    ChatSession,
    MessageReference,
    PromptTemplate,
    PromptTemplateShare,
)
from lockgate.identity.models import User
from lockgate.rag.models import Chunk, Collection, Document, DocumentTag, Tag

# -- sessions ---------------------------------------------------------------------------------------


def _sessions(owner_id: int, collection_id: int | None = None, document_id: int | None = None) -> Any:
    stmt = select(ChatSession).where(ChatSession.owner_id == owner_id)
    if collection_id is not None:
        stmt = stmt.where(ChatSession.collection_id == collection_id)
    if document_id is not None:
        used = (
            select(ChatMessage.session_id)
            .join(MessageReference, MessageReference.message_id == ChatMessage.id)
            .where(MessageReference.document_id == document_id)
        )
        stmt = stmt.where(ChatSession.id.in_(used))
    return stmt


async def list_sessions(
    session: AsyncSession,
    owner_id: int,
    offset: int,
    limit: int,
    collection_id: int | None = None,
    document_id: int | None = None,
) -> list[ChatSession]:
    stmt = _sessions(owner_id, collection_id, document_id)
    stmt = stmt.order_by(ChatSession.updated.desc(), ChatSession.id.desc()).offset(offset).limit(limit)
    return list(await session.scalars(stmt))


async def count_sessions(
    session: AsyncSession, owner_id: int, collection_id: int | None = None, document_id: int | None = None
) -> int:
    inner = _sessions(owner_id, collection_id, document_id).subquery()
    return int(await session.scalar(select(func.count()).select_from(inner)) or 0)


async def collection_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Collection.id, Collection.name).where(Collection.id.in_(ids)))
    return {row.id: row.name for row in rows}


async def session_counts(session: AsyncSession, collection_ids: list[int]) -> dict[int, int]:
    """How many chat sessions (of any user) each collection has; absent when none."""
    if not collection_ids:
        return {}
    rows = await session.execute(
        select(ChatSession.collection_id, func.count(ChatSession.id))
        .where(ChatSession.collection_id.in_(collection_ids))
        .group_by(ChatSession.collection_id)
    )
    return {collection_id: int(n) for collection_id, n in rows if collection_id is not None}


async def latest_messages(session: AsyncSession, session_ids: list[int]) -> dict[int, str]:
    if not session_ids:
        return {}
    last = (
        select(func.max(ChatMessage.id))
        .where(ChatMessage.session_id.in_(session_ids))
        .group_by(ChatMessage.session_id)
    )
    rows = await session.execute(
        select(ChatMessage.session_id, ChatMessage.content).where(ChatMessage.id.in_(last))
    )
    return {row.session_id: row.content for row in rows}


# -- messages ---------------------------------------------------------------------------------------


async def list_messages(
    session: AsyncSession, session_id: int, offset: int = 0, limit: int | None = None
) -> list[ChatMessage]:
    stmt = select(ChatMessage).where(ChatMessage.session_id == session_id).order_by(ChatMessage.id)
    return list(await session.scalars(stmt.offset(offset).limit(limit)))


async def reference_counts(session: AsyncSession, message_ids: list[int]) -> dict[int, int]:
    if not message_ids:
        return {}
    rows = await session.execute(
        select(MessageReference.message_id, func.count())
        .where(MessageReference.message_id.in_(message_ids))
        .group_by(MessageReference.message_id)
    )
    return {message_id: int(n) for message_id, n in rows}


async def list_references(session: AsyncSession, message_id: int) -> list[MessageReference]:
    stmt = select(MessageReference).where(MessageReference.message_id == message_id)
    return list(await session.scalars(stmt.order_by(MessageReference.score.desc(), MessageReference.id)))


async def existing_chunks(session: AsyncSession, chunk_ids: list[int]) -> set[int]:
    if not chunk_ids:
        return set()
    return set(await session.scalars(select(Chunk.id).where(Chunk.id.in_(chunk_ids))))


async def document_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Document.id, Document.name).where(Document.id.in_(ids)))
    return {row.id: row.name for row in rows}


async def collection_documents(session: AsyncSession, collection_id: int) -> list[int]:
    stmt = select(Document.id).where(Document.collection_id == collection_id).order_by(Document.id)
    return list(await session.scalars(stmt))


# -- prompt templates ---------------------------------------------------------------------------------


def _visible_templates(user_id: int) -> Select[PromptTemplate]:
    shared = select(PromptTemplateShare.template_id).where(PromptTemplateShare.user_id == user_id)
    return select(PromptTemplate).where(
        or_(
            PromptTemplate.owner_id == user_id,
            PromptTemplate.is_public.is_(True),
            PromptTemplate.id.in_(shared),
        )
    )


async def template_visible(session: AsyncSession, user_id: int, template_id: int) -> PromptTemplate | None:
    stmt = _visible_templates(user_id).where(PromptTemplate.id == template_id)
    return await session.scalar(stmt)


async def list_templates(
    session: AsyncSession, user_id: int, offset: int, limit: int, sort: str, ascending: bool, name: str | None
) -> list[PromptTemplate]:
    stmt = _visible_templates(user_id)
    if name:
        stmt = stmt.where(func.lower(PromptTemplate.name).contains(name.lower()))
    column = getattr(PromptTemplate, sort)
    stmt = stmt.order_by(column.asc() if ascending else column.desc(), PromptTemplate.id)
    return list(await session.scalars(stmt.offset(offset).limit(limit)))


async def count_templates(session: AsyncSession, user_id: int) -> int:
    inner = _visible_templates(user_id).subquery()
    return int(await session.scalar(select(func.count()).select_from(inner)) or 0)


async def template_shares(session: AsyncSession, template_id: int) -> list[str]:
    stmt = (
        select(User.email)
        .join(PromptTemplateShare, PromptTemplateShare.user_id == User.id)
        .where(PromptTemplateShare.template_id == template_id)
        .order_by(User.email)
    )
    return list(await session.scalars(stmt))


async def share_counts(session: AsyncSession, template_ids: list[int]) -> dict[int, int]:
    if not template_ids:
        return {}
    rows = await session.execute(
        select(PromptTemplateShare.template_id, func.count())
        .where(PromptTemplateShare.template_id.in_(template_ids))
        .group_by(PromptTemplateShare.template_id)
    )
    return {template_id: int(n) for template_id, n in rows}


async def owner_emails(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
    return {row.id: row.email for row in rows}


async def share_template(session: AsyncSession, template_id: int, user_id: int) -> None:
    if await session.get(PromptTemplateShare, (template_id, user_id)) is None:
        session.add(PromptTemplateShare(template_id=template_id, user_id=user_id))


async def unshare_template(session: AsyncSession, template_id: int, user_id: int | None = None) -> None:
    stmt = delete(PromptTemplateShare).where(PromptTemplateShare.template_id == template_id)
    if user_id is not None:
        stmt = stmt.where(PromptTemplateShare.user_id == user_id)
    await session.execute(stmt)


# -- retrieval helpers of the answer flow ------------------------------------------------------------


async def template_prompts(session: AsyncSession, template_id: int | None) -> dict[str, Any]:
    template = await session.get(PromptTemplate, template_id) if template_id is not None else None
    return dict(template.prompts or {}) if template is not None else {}


async def neighbour_chunks(session: AsyncSession, chunk_ids: list[int]) -> list[Any]:
    """The chunks right before and after each given chunk in its document (rag+)."""
    if not chunk_ids:
        return []
    rows = await session.execute(select(Chunk.document_id, Chunk.position).where(Chunk.id.in_(chunk_ids)))
    wanted = [(doc, pos + delta) for doc, pos in rows for delta in (-1, 1)]
    if not wanted:
        return []
    conditions = [(Chunk.document_id == doc) & (Chunk.position == pos) for doc, pos in wanted]
    stmt = select(Chunk).where(or_(*conditions)).where(Chunk.id.not_in(chunk_ids))
    return list(await session.scalars(stmt))


async def copies_in(session: AsyncSession, collection_id: int, roots: list[int]) -> list[int]:
    """The collection's copies of the documents `roots` (public ids: the document a copy came from)."""
    root = func.coalesce(Document.origin_id, Document.id)
    stmt = select(Document.id).where(Document.collection_id == collection_id, root.in_(roots))
    return list(await session.scalars(stmt))


async def documents_with_metadata(
    session: AsyncSession, collection_id: int, wanted: dict[str, Any]
) -> list[int]:
    """The documents of a collection whose metadata has every key of `wanted` with its value (a list:
    any of its values). Compared in Python, so a number matches a number and not its text alike on
    SQLite and PostgreSQL; only requests that carry a filter read the collection's metadata."""
    stmt = select(Document.id, Document.metadata_).where(Document.collection_id == collection_id)

    def matches(metadata: dict[str, Any]) -> bool:
        for key, value in wanted.items():
            if key not in metadata:
                return False
            accepted = value if isinstance(value, list) else [value]
            if not any(_same(metadata[key], v) for v in accepted):
                return False
        return True

    return [row[0] for row in await session.execute(stmt) if matches(dict(row[1] or {}))]


def _same(stored: Any, wanted: Any) -> bool:
    """Equal and of the same kind (True is not 1; 1 is 1.0)."""
    return isinstance(stored, bool) == isinstance(wanted, bool) and stored == wanted


async def collection_chunks(
    session: AsyncSession, collection_id: int, limit: int, document_ids: list[int] | None = None
) -> list[Any]:
    """Every chunk of a collection (or of some of its documents) in reading order, up to `limit`."""
    stmt = select(Chunk).where(Chunk.collection_id == collection_id)
    if document_ids is not None:
        stmt = stmt.where(Chunk.document_id.in_(document_ids))
    stmt = stmt.order_by(Chunk.document_id, Chunk.position).limit(limit)
    return list(await session.scalars(stmt))


async def add_message(session: AsyncSession, message: ChatMessage) -> ChatMessage:
    session.add(message)
    await session.flush()
    return message


async def add_references(session: AsyncSession, rows: list[MessageReference]) -> None:
    session.add_all(rows)


async def touch_session(session: AsyncSession, session_id: int, updated: int) -> None:
    chat = await session.get(ChatSession, session_id)
    if chat is not None:
        chat.updated = updated


async def tagged_documents(
    session: AsyncSession, collection_id: int, include: list[str] | None, exclude: list[str] | None
) -> list[int]:
    """The documents of a collection with any of `include` tags (all when None) and none of `exclude`."""

    def having(names: list[str]) -> Any:
        return (
            select(DocumentTag.document_id).join(Tag, Tag.id == DocumentTag.tag_id).where(Tag.name.in_(names))
        )

    stmt = select(Document.id).where(Document.collection_id == collection_id)
    if include:
        stmt = stmt.where(Document.id.in_(having(include)))
    if exclude:
        stmt = stmt.where(Document.id.not_in(having(exclude)))
    return list(await session.scalars(stmt))
