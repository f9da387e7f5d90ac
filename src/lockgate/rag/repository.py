"""The SQL of the RAG domain that is the same on every database: collections, documents, chunk rows,
access and filters. How chunks are indexed and ranked is the chunk store's (`chunk_store`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, and_, cast, delete, false, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.kit.pagination import Page, paginate
from lockgate.rag.access import readable
from lockgate.rag.models import Chunk, Collection, Document


async def bump_vectors(session: AsyncSession, collection_id: int) -> None:
    await session.execute(
        update(Collection)
        .where(Collection.id == collection_id)
        .values(vectors_version=Collection.vectors_version + 1, updated=Collection.updated)
    )


async def vector_versions(session: AsyncSession, collection_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Each existing collection's vector-cache version: (created, vectors_version). `created` is part of
    it so that no cached matrix can outlive its collection even if an id came back (a restored backup)."""
    stmt = select(Collection.id, Collection.created, Collection.vectors_version).where(
        Collection.id.in_(collection_ids)
    )
    return {row[0]: (row[1], row[2]) for row in await session.execute(stmt)}


async def search_settings(session: AsyncSession, collection_ids: list[int]) -> dict[str, Any]:
    """The stored `search` settings (fusion, rerank) of the first of these collections, or {}."""
    stmt = (
        select(Collection.settings).where(Collection.id.in_(collection_ids)).order_by(Collection.id).limit(1)
    )
    settings = await session.scalar(stmt)
    found = (settings or {}).get("search") if isinstance(settings, dict) else None
    return dict(found) if isinstance(found, dict) else {}


async def get_collection(session: AsyncSession, collection_id: int) -> Collection | None:
    return await session.get(Collection, collection_id)


async def list_collections(
    session: AsyncSession, user_id: int, page: Page, name: str | None, visibility: str | None
) -> list[tuple[Collection, int]]:
    counts = (
        select(Document.collection_id, func.count(Document.id).label("n"))
        .group_by(Document.collection_id)
        .subquery()
    )
    stmt = select(Collection, func.coalesce(counts.c.n, 0)).outerjoin(
        counts, counts.c.collection_id == Collection.id
    )
    stmt = stmt.where(readable(user_id))
    if name is not None:
        stmt = stmt.where(Collection.name == name)
    if visibility is not None:
        stmt = stmt.where(Collection.visibility == visibility)
    return [(row[0], row[1]) for row in await session.execute(paginate(stmt, Collection, page))]


async def count_documents(session: AsyncSession, collection_id: int) -> int:
    return (
        await session.scalar(select(func.count(Document.id)).where(Document.collection_id == collection_id))
        or 0
    )


async def get_document(session: AsyncSession, document_id: int) -> Document | None:
    return await session.get(Document, document_id)


async def documents_named(
    session: AsyncSession, collection_id: int, names: list[str]
) -> dict[str, list[Document]]:
    """The collection's documents bearing each of these names (usually one each), oldest first."""
    if not names:
        return {}
    stmt = (
        select(Document)
        .where(Document.collection_id == collection_id, Document.name.in_(set(names)))
        .order_by(Document.id)
    )
    found: dict[str, list[Document]] = {}
    for document in await session.scalars(stmt):
        found.setdefault(document.name, []).append(document)
    return found


async def documents_hashed(
    session: AsyncSession, collection_id: int, digests: list[str]
) -> dict[str, tuple[int, str]]:
    """File hash → (id, name) of a document of the collection with those bytes."""
    stmt = select(Document.file_hash, Document.id, Document.name).where(
        Document.collection_id == collection_id, Document.file_hash.in_(set(digests))
    )
    return {digest: (id_, name) for digest, id_, name in await session.execute(stmt) if digest is not None}


async def delete_documents(session: AsyncSession, document_ids: list[int]) -> None:
    """Documents and (by cascade) their chunks and index entries, in the caller's transaction."""
    await session.execute(delete(Document).where(Document.id.in_(document_ids)))


async def manifest(session: AsyncSession, collection_id: int) -> list[tuple[int, str, str | None, int]]:
    """(id, name, file hash, chunks) of every document of the collection, by name."""
    stmt = (
        select(Document.id, Document.name, Document.file_hash, Document.chunks)
        .where(Document.collection_id == collection_id)
        .order_by(Document.name, Document.id)
    )
    return [(row[0], row[1], row[2], row[3]) for row in await session.execute(stmt)]


async def list_documents(
    session: AsyncSession, user_id: int, page: Page, collection_id: int | None, name: str | None
) -> list[Document]:
    stmt = select(Document).join(Collection, Collection.id == Document.collection_id).where(readable(user_id))
    if collection_id is not None:
        stmt = stmt.where(Document.collection_id == collection_id)
    if name is not None:
        stmt = stmt.where(Document.name == name)
    return list((await session.scalars(paginate(stmt, Document, page))).all())


async def list_chunks(session: AsyncSession, document_id: int, offset: int, limit: int) -> list[Chunk]:
    stmt = (
        select(Chunk)
        .where(Chunk.document_id == document_id)
        .order_by(Chunk.position)
        .offset(offset)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def take_chunk_numbers(session: AsyncSession, document_id: int, count: int) -> int:
    """Reserve `count` chunk numbers in the document, returning the first. One UPDATE, so concurrent
    appends (which lock the row on PostgreSQL, serialize on SQLite) never get the same numbers."""
    stmt = (
        update(Document)
        .where(Document.id == document_id)
        .values(next_chunk=Document.next_chunk + count)
        .returning(Document.next_chunk)
    )
    return int((await session.execute(stmt)).scalar_one()) - count


async def chunk_at(session: AsyncSession, document_id: int, position: int) -> Chunk | None:
    """The chunk numbered `position` (from 0) in the document."""
    stmt = select(Chunk).where(Chunk.document_id == document_id, Chunk.position == position)
    return await session.scalar(stmt)


async def chunks_with_names(session: AsyncSession, ids: list[int]) -> dict[int, tuple[Chunk, str]]:
    """Chunks by id, each with its document's name (what a citation shows)."""
    if not ids:
        return {}
    stmt = (
        select(Chunk, Document.name).join(Document, Document.id == Chunk.document_id).where(Chunk.id.in_(ids))
    )
    return {row[0].id: (row[0], row[1]) for row in await session.execute(stmt)}


async def document_names_in(session: AsyncSession, collection_id: int) -> dict[int, str]:
    stmt = select(Document.id, Document.name).where(Document.collection_id == collection_id)
    return {row[0]: row[1] for row in await session.execute(stmt)}


async def chunk_documents(session: AsyncSession, chunk_ids: list[int]) -> dict[int, int]:
    """Chunk id → its document's id."""
    if not chunk_ids:
        return {}
    stmt = select(Chunk.id, Chunk.document_id).where(Chunk.id.in_(chunk_ids))
    return {row[0]: row[1] for row in await session.execute(stmt)}


def _metadata_condition(spec: dict[str, Any]) -> Any:
    if "filters" in spec:
        parts = [_metadata_condition(f) for f in spec["filters"]]
        if not parts:
            return false() if spec.get("operator") == "or" else true()
        return or_(*parts) if spec.get("operator") == "or" else and_(*parts)
    condition = _compare(Chunk.metadata_[spec["key"]].as_string(), spec)
    if spec["key"] == "page":  # a PDF chunk's page is its own column, still filterable as metadata
        condition = or_(condition, _compare(cast(Chunk.page, String), spec))
    return condition


def _compare(field: Any, spec: dict[str, Any]) -> Any:
    value = str(spec["value"])
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    kind = spec.get("type", "eq")
    if kind == "sw":
        return field.like(f"{escaped}%", escape="\\")
    if kind == "ew":
        return field.like(f"%{escaped}", escape="\\")
    if kind == "co":
        return field.like(f"%{escaped}%", escape="\\")
    return field == value


def chunk_filters(
    collection_ids: list[int], document_ids: list[int] | None, metadata: dict[str, Any] | None
) -> list[Any]:
    conditions = [Chunk.collection_id.in_(collection_ids)]
    if document_ids:
        conditions.append(Chunk.document_id.in_(document_ids))
    if metadata:
        conditions.append(_metadata_condition(metadata))
    return conditions


async def vectors(
    session: AsyncSession,
    collection_ids: list[int],
    document_ids: list[int] | None,
    metadata: dict[str, Any] | None,
) -> list[tuple[int, bytes]]:
    stmt = select(Chunk.id, Chunk.embedding).where(*chunk_filters(collection_ids, document_ids, metadata))
    return [(row[0], row[1]) for row in await session.execute(stmt)]


async def document_names(session: AsyncSession, document_ids: list[int]) -> dict[int, str]:
    stmt = select(Document.id, Document.name).where(Document.id.in_(set(document_ids)))
    return {row[0]: row[1] for row in await session.execute(stmt)}
