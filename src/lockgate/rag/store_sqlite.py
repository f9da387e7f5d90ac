"""SQLite chunk store: FTS5 BM25 for lexical search (the index is kept in step by triggers from
migration 0005), and exact cosine over a per-process matrix of each collection's vectors."""

from __future__ import annotations

import re

from sqlalchemy import column, literal_column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.kit.db import Database
from lockgate.rag import repository
from lockgate.rag.models import Chunk
from lockgate.rag.schemas import SearchScope
from lockgate.rag.search import cosine_top
from lockgate.rag.vectors import CachedVectors, VectorCache, top_k

_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(query: str) -> str | None:
    """User text → a safe FTS5 query: every word quoted, any of them may match (BM25 ranks)."""
    words = _WORD.findall(query)
    return " OR ".join(f'"{w}"' for w in words) if words else None


class SqliteChunkStore:
    def __init__(self, db: Database):
        self._db = db
        self._vectors = VectorCache()

    async def prepare(self, dimensions: int) -> None:
        """Nothing to prepare: vectors are kept as float32 bytes in the chunk rows."""

    async def index(self, session: AsyncSession, rows: list[Chunk]) -> None:
        """Nothing to do: FTS5 triggers index the text, and vectors are read from the rows."""

    async def semantic(
        self, query_vector: list[float], scope: SearchScope, limit: int, threshold: float
    ) -> list[tuple[int, float]]:
        if scope.filtered:  # let the database pick the rows, then rank them exactly
            async with self._db.transaction() as session:
                rows = await repository.vectors(
                    session, scope.collection_ids, scope.document_ids, scope.metadata
                )
            return cosine_top(query_vector, rows, limit, threshold)
        return top_k(query_vector, await self._cached(scope.collection_ids), limit, threshold)

    async def _cached(self, collection_ids: list[int]) -> list[CachedVectors]:
        async with self._db.transaction() as session:
            versions = await repository.vector_versions(session, collection_ids)
            for gone in set(collection_ids) - set(versions):
                self._vectors.forget(gone)  # deleted: its matrix must never serve anything again
            entries = []
            for collection_id, version in versions.items():
                entry = self._vectors.get(collection_id, version)
                if entry is None:
                    rows = await repository.vectors(session, [collection_id], None, None)
                    entry = self._vectors.put(collection_id, version, rows)
                entries.append(entry)
        return entries

    async def lexical(self, query: str, scope: SearchScope, limit: int) -> list[tuple[int, float]]:
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
            .where(*repository.chunk_filters(scope.collection_ids, scope.document_ids, scope.metadata))
            .order_by(score.desc(), Chunk.id)
            .limit(limit)
        )
        async with self._db.transaction() as session:
            return [(row[0], float(row[1])) for row in await session.execute(stmt)]
