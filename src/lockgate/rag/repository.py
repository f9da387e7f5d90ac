"""All SQL of the RAG domain, including the lexical (FTS5 BM25) and vector reads."""

from __future__ import annotations

import math
import re
from typing import Any

from sqlalchemy import and_, case, column, false, func, literal_column, or_, select, table, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.kit.pagination import Page, paginate
from lockgate.rag.models import Chunk, ChunkTerm, Collection, Document
from lockgate.rag.terms import query_terms


def readable(owner_id: int) -> Any:
    """The access rule every read is ANDed with: your collections, and public ones."""
    return or_(Collection.owner_id == owner_id, Collection.visibility == "public")


async def readable_collection_ids(session: AsyncSession, user_id: int, wanted: list[int] | None) -> list[int]:
    stmt = select(Collection.id).where(readable(user_id))
    if wanted:
        stmt = stmt.where(Collection.id.in_(wanted))
    return list((await session.scalars(stmt)).all())


async def bump_vectors(session: AsyncSession, collection_id: int) -> None:
    await session.execute(
        update(Collection)
        .where(Collection.id == collection_id)
        .values(vectors_version=Collection.vectors_version + 1, updated=Collection.updated)
    )


async def vector_versions(session: AsyncSession, collection_ids: list[int]) -> dict[int, int]:
    stmt = select(Collection.id, Collection.vectors_version).where(Collection.id.in_(collection_ids))
    return {row[0]: row[1] for row in await session.execute(stmt)}


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


async def document_with_hash(session: AsyncSession, collection_id: int, content_hash: str) -> Document | None:
    stmt = select(Document).where(
        Document.collection_id == collection_id, Document.content_hash == content_hash
    )
    return await session.scalar(stmt)


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


async def next_position(session: AsyncSession, document_id: int) -> int:
    return (
        await session.scalar(select(func.max(Chunk.position)).where(Chunk.document_id == document_id)) or -1
    ) + 1


async def chunks_by_id(session: AsyncSession, ids: list[int]) -> dict[int, Chunk]:
    if not ids:
        return {}
    return {c.id: c for c in (await session.scalars(select(Chunk).where(Chunk.id.in_(ids)))).all()}


def _metadata_condition(spec: dict[str, Any]) -> Any:
    if "filters" in spec:
        parts = [_metadata_condition(f) for f in spec["filters"]]
        if not parts:
            return false() if spec.get("operator") == "or" else true()
        return or_(*parts) if spec.get("operator") == "or" else and_(*parts)
    field = Chunk.metadata_[spec["key"]].as_string()
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


def _chunk_filters(
    collection_ids: list[int], document_ids: list[int] | None, metadata: dict | None
) -> list[Any]:
    conditions = [Chunk.collection_id.in_(collection_ids)]
    if document_ids:
        conditions.append(Chunk.document_id.in_(document_ids))
    if metadata:
        conditions.append(_metadata_condition(metadata))
    return conditions


async def vectors(
    session: AsyncSession, collection_ids: list[int], document_ids: list[int] | None, metadata: dict | None
) -> list[tuple[int, bytes]]:
    stmt = select(Chunk.id, Chunk.embedding).where(*_chunk_filters(collection_ids, document_ids, metadata))
    return [(row[0], row[1]) for row in await session.execute(stmt)]


_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(query: str) -> str | None:
    """User text → a safe FTS5 query: every word quoted, any of them may match (BM25 ranks)."""
    words = _WORD.findall(query)
    return " OR ".join(f'"{w}"' for w in words) if words else None


async def lexical(
    session: AsyncSession,
    query: str,
    collection_ids: list[int],
    document_ids: list[int] | None,
    metadata: dict | None,
    limit: int,
) -> list[tuple[int, float]]:
    """(chunk id, BM25 score — higher is better), best first. SQLite FTS5."""
    match = fts_query(query)
    if match is None:
        return []
    # chunks_fts (FTS5, created by migration 0005 on SQLite) is not part of the ORM metadata.
    fts = table("chunks_fts", column("rowid"))
    score = literal_column("-bm25(chunks_fts)").label("score")
    stmt = (
        select(Chunk.id, score)
        .join(fts, fts.c.rowid == Chunk.id)
        .where(literal_column("chunks_fts").op("MATCH")(match))
        .where(*_chunk_filters(collection_ids, document_ids, metadata))
        .order_by(score.desc(), Chunk.id)
        .limit(limit)
    )
    return [(row[0], float(row[1])) for row in await session.execute(stmt)]


BM25_K1 = 1.2
BM25_B = 0.75


async def bm25(
    session: AsyncSession,
    query: str,
    collection_ids: list[int],
    document_ids: list[int] | None,
    metadata: dict | None,
    limit: int,
) -> list[tuple[int, float]]:
    """(chunk id, Okapi BM25 score), best first, from the chunk_terms postings (PostgreSQL). Document
    frequencies and the average length are those of the collections searched."""
    wanted = query_terms(query)
    if not wanted:
        return []
    scope = _chunk_filters(collection_ids, document_ids, None)
    stats = (await session.execute(select(func.count(Chunk.id), func.avg(Chunk.length)).where(*scope))).one()
    total, avg_length = int(stats[0] or 0), float(stats[1] or 0.0)
    if not total:
        return []
    frequencies = dict(
        (
            await session.execute(
                select(ChunkTerm.term, func.count(ChunkTerm.chunk_id))
                .join(Chunk, Chunk.id == ChunkTerm.chunk_id)
                .where(ChunkTerm.term.in_(wanted), *scope)
                .group_by(ChunkTerm.term)
            )
        ).all()
    )
    if not frequencies:
        return []
    idf = case(
        *[
            (ChunkTerm.term == term, math.log(1 + (total - df + 0.5) / (df + 0.5)))
            for term, df in frequencies.items()
        ],
        else_=0.0,
    )
    norm = BM25_K1 * (1 - BM25_B + BM25_B * Chunk.length / max(avg_length, 1e-9))
    score = func.sum(idf * ChunkTerm.tf * (BM25_K1 + 1) / (ChunkTerm.tf + norm)).label("score")
    stmt = (
        select(ChunkTerm.chunk_id, score)
        .join(Chunk, Chunk.id == ChunkTerm.chunk_id)
        .where(ChunkTerm.term.in_(list(frequencies)), *_chunk_filters(collection_ids, document_ids, metadata))
        .group_by(ChunkTerm.chunk_id)
        .order_by(score.desc(), ChunkTerm.chunk_id)
        .limit(limit)
    )
    return [(row[0], float(row[1])) for row in await session.execute(stmt)]
