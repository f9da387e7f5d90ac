"""The store protocol: how chunks are indexed and ranked, one implementation per database. Everything
else about documents and chunks (rows, ownership, transactions) is the same SQL on both and lives in
`repository`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.kit.db import Database, is_sqlite
from lockgate.rag.models import Chunk


@dataclass(frozen=True, slots=True)
class SearchScope:
    """Which chunks a search may consider. `collection_ids` are already limited to what the caller can
    read; the other filters can only narrow them further."""

    collection_ids: list[int]
    document_ids: list[int] | None = None
    metadata: dict[str, Any] | None = None

    @property
    def filtered(self) -> bool:
        return bool(self.document_ids or self.metadata)


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
    if is_sqlite(db.url):
        from lockgate.rag.store_sqlite import SqliteChunkStore

        return SqliteChunkStore(db)
    from lockgate.rag.store_postgres import PostgresChunkStore

    return PostgresChunkStore(db)
