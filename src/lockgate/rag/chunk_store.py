"""The store protocol: how chunks are indexed and ranked, one implementation per database. Everything
else about documents and chunks (rows, ownership, transactions) is the same SQL on both and lives in
`repository`. The stores import nothing from here (they satisfy the protocol structurally)."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.kit.db import Database, is_sqlite
from lockgate.rag import repository
from lockgate.rag.models import Chunk
from lockgate.rag.schemas import SearchScope
from lockgate.rag.store_postgres import PostgresChunkStore
from lockgate.rag.store_sqlite import SqliteChunkStore


class ChunkStore(Protocol):
    async def prepare(self, dimensions: int) -> None:
        """Make ready to index vectors of this size; called before the write transaction opens."""

    async def index(self, session: AsyncSession, rows: list[Chunk]) -> None:
        """Index freshly flushed chunk rows, in the caller's transaction (so a failure undoes both)."""

    async def semantic(
        self, query_vector: list[float], scope: SearchScope, limit: int, threshold: float
    ) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity), best first, at most `limit`, none below `threshold`."""

    async def lexical(self, query: str, scope: SearchScope, limit: int) -> list[tuple[int, float]]:
        """(chunk id, BM25 score — higher is better), best first, at most `limit`."""


def chunk_store_for(db: Database) -> ChunkStore:
    """The store of the database `db` runs on; `build_state` injects it into the services that index or
    rank chunks."""
    return SqliteChunkStore(db) if is_sqlite(db.url) else PostgresChunkStore(db)


async def write_chunks(store: ChunkStore, session: AsyncSession, rows: list[Chunk]) -> None:
    """Chunks and their index entries, in the caller's transaction (which also moves each collection's
    vectors version, so every replica's vector cache reloads)."""
    for collection_id in {row.collection_id for row in rows}:
        await repository.bump_vectors(session, collection_id)
    session.add_all(rows)
    await session.flush()
    await store.index(session, rows)
