"""PostgreSQL chunk store: pgvector HNSW for semantic search, and BM25 over term postings that Lockgate
writes itself (Postgres' own `ts_rank` is not BM25 and ranks much worse: bench/rag_cisi.py). Terms and
scores are SQLite's: FTS5's own tokenizer (run in process) makes the terms, and the score is FTS5's
bm25() (ADR 0026), so a collection ranks the same on both databases."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import numpy as np
from sqlalchemy import (
    Integer,
    LargeBinary,
    Select,
    String,
    Table,
    any_,
    bindparam,
    case,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.kit.db import Database
from lockgate.rag import repository
from lockgate.rag.fts5_index import CHUNKS_TOKENIZE, WORD, Fts5Tokenizer, fts5_idf
from lockgate.rag.lexical_index import (
    BM25_B,
    BM25_K1,
    CollectionTerms,
    LexicalCache,
    Postings,
    bm25_top,
    cached_terms,
)
from lockgate.rag.models import Chunk, ChunkTerm
from lockgate.rag.schemas import SearchScope

HNSW_MAX_EF_SEARCH = 1000  # pgvector's ceiling for hnsw.ef_search
MAX_TERM = 64  # characters of a term kept (chunk_terms.term); FTS5 keeps longer tokens whole

# One row per term: its postings as (chunk id, tf) pairs of big-endian int32, decoded by numpy at once.
POSTINGS: Select[str, bytes] = select(
    ChunkTerm.term,
    func.string_agg(
        func.int4send(ChunkTerm.chunk_id).op("||")(func.int4send(ChunkTerm.tf)),
        literal(b"", LargeBinary),
    ),
).group_by(ChunkTerm.term)


def vector_literal(vector: Iterable[float]) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


class PostgresChunkStore:
    def __init__(self, db: Database):
        self._db = db
        self._indexed_dimensions: set[int] = set()
        self._terms = LexicalCache()
        self._tokenizer = Fts5Tokenizer(CHUNKS_TOKENIZE)

    # -- writing -----------------------------------------------------------------------------------

    async def index(self, session: AsyncSession, rows: list[Chunk]) -> None:
        """BM25 postings (FTS5's terms of each chunk, as SQLite's index holds them) and each chunk's
        length in tokens and pgvector copy of its vector, in the caller's transaction."""
        counts: dict[tuple[int, str], int] = {}
        lengths = dict.fromkeys((row.id for row in rows), 0)
        found = await self._tokenizer.postings([(row.id, row.content) for row in rows])
        for term, (ids, tfs) in found.items():
            for chunk_id, tf in zip(ids.tolist(), tfs.tolist(), strict=True):
                key = (chunk_id, term[:MAX_TERM])  # two long tokens may share a cut term: one posting
                counts[key] = counts.get(key, 0) + int(tf)
                lengths[chunk_id] += int(tf)
        postings = [{"chunk_id": c, "term": t, "tf": tf} for (c, t), tf in counts.items()]
        vectors = [
            {
                "id": row.id,
                "length": lengths[row.id],
                "vector": vector_literal(np.frombuffer(row.embedding, dtype=np.float32)),
            }
            for row in rows
        ]
        if postings:
            await session.execute(cast(Table, ChunkTerm.__table__).insert(), postings)
        if vectors:
            await session.execute(
                text(
                    "UPDATE chunks SET length = :length, vector = CAST(CAST(:vector AS text) AS vector) "
                    "WHERE id = :id"
                ),
                vectors,
            )

    async def prepare(self, dimensions: int) -> None:
        """One HNSW index per vector size, partial on that size (the column itself is untyped, so a
        change of embedding model needs no migration). Built once, in its own transaction, before any
        write transaction holds locks on chunks."""
        if dimensions in self._indexed_dimensions:
            return
        name = f"ix_chunks_vector_hnsw_{dimensions}"
        try:
            async with self._db.transaction() as session:
                await session.execute(
                    text(
                        f"CREATE INDEX IF NOT EXISTS {name} ON chunks "
                        f"USING hnsw ((vector::vector({dimensions})) vector_cosine_ops) "
                        f"WHERE vector_dims(vector) = {dimensions}"
                    )
                )
        except DBAPIError:  # another replica built it at the same moment: IF NOT EXISTS is not atomic
            async with self._db.transaction() as session:
                found = await session.scalar(
                    text("SELECT 1 FROM pg_indexes WHERE indexname = :n"), {"n": name}
                )
            if found is None:
                raise
        self._indexed_dimensions.add(dimensions)

    # -- semantic ----------------------------------------------------------------------------------

    async def semantic(
        self, query_vector: list[float], scope: SearchScope, limit: int, threshold: float
    ) -> list[tuple[int, float]]:
        """HNSW first; if the index's candidates, once filtered by access and the caller's filters,
        fall short of `limit` (pgvector filters after the index scan), rank the scope exactly."""
        hits = await self.nearest(query_vector, scope, limit, exact=False)
        if len(hits) < limit:
            hits = await self.nearest(query_vector, scope, limit, exact=True)
        return [(chunk_id, score) for chunk_id, score in hits if score >= threshold]

    @staticmethod
    def nearest_statement(dimensions: int, scope: SearchScope, limit: int, exact: bool) -> Select[int, float]:
        """Chunks by cosine distance to the `:query` parameter. Only the typed cast of the column
        matches the partial HNSW index, so `exact` leaves the column untyped to rank every row."""
        column = "vector" if exact else f"(vector::vector({dimensions}))"
        distance = text(f"{column} <=> CAST(CAST(:query AS text) AS vector({dimensions}))").bindparams(
            bindparam("query", type_=String)
        )
        return (
            select(Chunk.id, distance)
            .where(text(f"vector_dims(vector) = {dimensions}"))
            .where(*repository.chunk_filters(scope.collection_ids, scope.document_ids, scope.metadata))
            .order_by(*((distance, Chunk.id) if exact else (distance,)))  # HNSW orders by distance only
            .limit(limit)
        )

    async def nearest(
        self, query_vector: list[float], scope: SearchScope, limit: int, exact: bool
    ) -> list[tuple[int, float]]:
        stmt = self.nearest_statement(len(query_vector), scope, limit, exact)
        async with self._db.transaction() as session:
            if not exact:
                ef_search = min(HNSW_MAX_EF_SEARCH, max(40, limit))
                await session.execute(text(f"SET LOCAL hnsw.ef_search = {ef_search}"))
            rows = await session.execute(stmt, {"query": vector_literal(query_vector)})
            return [(row[0], 1.0 - float(row[1])) for row in rows]

    # -- lexical -----------------------------------------------------------------------------------

    def phrases(self, query: str) -> list[str]:
        """The query's terms in order, repeats included, as SQLite ranks them: each word (`WORD`)
        tokenized by FTS5. A word FTS5 splits (`snake_case`) gives each of its tokens, any of which
        may match (SQLite's FTS5 matches them as an adjacent phrase)."""
        words = WORD.findall(query)
        return [t[:MAX_TERM] for tokens in self._tokenizer.tokens(words) for t in tokens] if words else []

    async def lexical(self, query: str, scope: SearchScope, limit: int) -> list[tuple[int, float]]:
        """FTS5's bm25() from the postings. Document frequencies, the chunk count and the average length
        are those of the collections searched. Whole collections are ranked from the per-process index
        (`lexical_index`); searches narrowed by documents or metadata let the database sum the postings."""
        phrases = self.phrases(query)
        if not phrases:
            return []
        if scope.filtered:
            return await self.lexical_sql(phrases, scope, limit)
        async with self._db.lazy_transaction() as session:
            entries = await cached_terms(
                self._terms,
                session,
                scope.collection_ids,
                scope.versions,
                list(dict.fromkeys(phrases)),
                self._refreshed,
                self._load_terms,
            )
        return bm25_top(entries, phrases, limit)

    async def _load_terms(
        self, session: AsyncSession, collection_id: int, entry: CollectionTerms, missing: list[str]
    ) -> None:
        """The postings of `missing` in the collection (joined on it: only it is read), in one read."""
        stmt = POSTINGS.join(Chunk, Chunk.id == ChunkTerm.chunk_id).where(
            Chunk.collection_id == collection_id, ChunkTerm.term.in_(missing)
        )
        await self._read_postings(session, entry, stmt, missing)

    async def _refreshed(
        self, session: AsyncSession, collection_id: int, version: tuple[int, int]
    ) -> CollectionTerms:
        """The collection's entry at `version`: after a write, the previous entry's postings plus those
        of the chunks written (a read by chunk id); else, if within the cap, every term's postings in
        one read, so no later search of this version reads postings again."""
        ids, lengths = (
            await session.execute(
                select(func.array_agg(Chunk.id), func.array_agg(Chunk.length)).where(
                    Chunk.collection_id == collection_id
                )
            )
        ).one()
        entry, added = self._terms.refresh(
            collection_id,
            version,
            np.asarray(ids or [], dtype=np.int64),
            np.asarray(lengths or [], dtype=np.float64),
        )
        if entry.complete or entry.postings:  # carried over from the previous version
            if len(added):
                stmt = POSTINGS.where(ChunkTerm.chunk_id == any_(bindparam("added", type_=ARRAY(Integer))))
                if not entry.complete:
                    stmt = stmt.where(ChunkTerm.term.in_(list(entry.postings)))
                await self._read_postings(session, entry, stmt, None, added=[int(i) for i in added])
        elif self._terms.fits_whole(entry):
            await self._load_all_postings(session, collection_id, entry)
        self._terms.put(collection_id, entry)
        return entry

    @classmethod
    async def _load_all_postings(
        cls, session: AsyncSession, collection_id: int, entry: CollectionTerms
    ) -> None:
        """Every term's postings in the collection (joined on it: only it is read) in one read."""
        stmt = POSTINGS.join(Chunk, Chunk.id == ChunkTerm.chunk_id).where(
            Chunk.collection_id == collection_id
        )
        await cls._read_postings(session, entry, stmt, [])
        entry.complete = True

    @staticmethod
    async def _read_postings(
        session: AsyncSession,
        entry: CollectionTerms,
        stmt: Select[str, bytes],
        terms: list[str] | None,
        **params: object,
    ) -> None:
        """Postings from `stmt` (one row per term, its (chunk id, frequency) pairs as big-endian int32
        bytes: no Python object per posting) into `entry`: a term's whole postings, and then each of
        `terms` no row named holds no chunk of the collection; or, if `terms` is None, postings of
        chunks new to the entry (`CollectionTerms.add`)."""
        found = set()
        for term, pairs in await session.execute(stmt, params):
            both = np.frombuffer(pairs, dtype=">i4").reshape(-1, 2)
            ids, tf = both[:, 0].astype(np.int64), both[:, 1].astype(np.float64)
            if terms is None:
                entry.add(term, ids, tf)
            else:
                entry.postings[term] = entry.postings_of(ids, tf)
                found.add(term)
        for term in terms or ():
            if term not in found:
                entry.postings[term] = Postings(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))

    async def lexical_sql(
        self, phrases: list[str], scope: SearchScope, limit: int
    ) -> list[tuple[int, float]]:
        """The same BM25 (the query's terms as `phrases` gives them) summed by the database over the
        postings of the chunks in `scope`, with the statistics of the scope's collections and documents."""
        in_collections = repository.chunk_filters(scope.collection_ids, scope.document_ids, None)
        async with self._db.transaction() as session:
            stats = (
                await session.execute(
                    select(func.count(Chunk.id), func.avg(Chunk.length)).where(*in_collections)
                )
            ).one()
            total, avg_length = int(stats[0] or 0), float(stats[1] or 0.0)
            if not total:
                return []
            frequencies = dict(
                (
                    await session.execute(
                        select(ChunkTerm.term, func.count(ChunkTerm.chunk_id))
                        .join(Chunk, Chunk.id == ChunkTerm.chunk_id)
                        .where(ChunkTerm.term.in_(set(phrases)), *in_collections)
                        .group_by(ChunkTerm.term)
                    )
                ).all()
            )
            if not frequencies:
                return []
            idf = case(  # a term the query repeats counts as often (FTS5 scores each phrase)
                *[
                    (ChunkTerm.term == term, phrases.count(term) * fts5_idf(total, df))
                    for term, df in frequencies.items()
                ],
                else_=0.0,
            )
            norm = BM25_K1 * (1 - BM25_B + BM25_B * Chunk.length / max(avg_length, 1e-9))
            score = func.sum(idf * ChunkTerm.tf * (BM25_K1 + 1) / (ChunkTerm.tf + norm)).label("score")
            stmt = (
                select(ChunkTerm.chunk_id, score)
                .join(Chunk, Chunk.id == ChunkTerm.chunk_id)
                .where(
                    ChunkTerm.term.in_(list(frequencies)),
                    *repository.chunk_filters(scope.collection_ids, scope.document_ids, scope.metadata),
                )
                .group_by(ChunkTerm.chunk_id)
                .order_by(score.desc(), ChunkTerm.chunk_id)
                .limit(limit)
            )
            return [(row[0], float(row[1])) for row in await session.execute(stmt)]
