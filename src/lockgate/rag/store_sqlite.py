"""SQLite chunk store: lexical search ranked as FTS5's bm25() ranks (the FTS5 index is kept in step by
triggers from migration 0005), from a per-process index of FTS5's own terms and postings, and exact
cosine over a per-process matrix of each collection's vectors."""

from __future__ import annotations

from functools import partial

import numpy as np
from sqlalchemy import Float, bindparam, column, literal_column, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.kit.db import Database
from lockgate.rag import repository
from lockgate.rag.fts5_index import (
    WORD,
    Fts5Tokenizer,
    averages,
    fts5_idf,
    postings_from_instances,
    tokenizer_of,
    varint,
)
from lockgate.rag.lexical_index import CollectionTerms, LexicalCache, cached_terms, rank
from lockgate.rag.models import Chunk
from lockgate.rag.schemas import SearchScope
from lockgate.rag.search import cosine_top
from lockgate.rag.vectors import CachedVectors, VectorCache, top_k

MAX_KEPT_TERMS = 100_000  # table-wide document frequencies kept between writes
ADDED_BATCH = 5_000  # chunks re-tokenized per read after a write (SQLite caps bound parameters)


async def _same(session: AsyncSession) -> AsyncSession:
    return session


def fts_query(query: str) -> str | None:
    """User text → a safe FTS5 query: every word quoted, any of them may match (BM25 ranks)."""
    words = WORD.findall(query)
    return " OR ".join(f'"{w}"' for w in words) if words else None


class SqliteChunkStore:
    def __init__(self, db: Database):
        self._db = db
        self._vectors = VectorCache()
        self._terms = LexicalCache()
        self._tokenizer: Fts5Tokenizer | None = None
        self._hits_of = b""  # FTS5's structure record when `_hits` was read
        self._hits: dict[str, int] = {}

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
        return top_k(query_vector, await self._cached(scope), limit, threshold)

    async def _cached(self, scope: SearchScope) -> list[CachedVectors]:
        async with self._db.lazy_transaction() as session:
            versions = scope.versions
            if versions is None:
                versions = await repository.vector_versions(await session(), scope.collection_ids)
            for gone in set(scope.collection_ids) - set(versions):
                self._vectors.forget(gone)  # deleted: its matrix must never serve anything again
            entries = []
            for collection_id, version in versions.items():
                entry = self._vectors.get(collection_id, version)
                if entry is None:
                    rows = await repository.vectors(await session(), [collection_id], None, None)
                    entry = self._vectors.put(collection_id, version, rows)
                entries.append(entry)
        return entries

    async def lexical(self, query: str, scope: SearchScope, limit: int) -> list[tuple[int, float]]:
        """FTS5's bm25() ranking, ties by chunk id. Whole collections are ranked from the per-process
        index; searches narrowed by documents or metadata, and queries holding a word FTS5 splits into
        several tokens or none (a phrase, e.g. `snake_case`), are ranked by FTS5 itself."""
        words = WORD.findall(query)
        if not words:
            return []
        if scope.filtered:
            return await self.lexical_fts(query, scope, limit)
        async with self._db.transaction() as session:
            tokens = (await self._fts5(session)).tokens(words)
            if any(len(t) != 1 for t in tokens):
                return await self.lexical_fts(query, scope, limit)
            phrases = [t[0] for t in tokens]  # FTS5 scores each quoted word, repeats included
            rows, total_tokens, hits = await self._table_statistics(session, phrases)
            if not rows:
                return []
            found = [t for t in dict.fromkeys(phrases) if hits.get(t)]
            entries = await cached_terms(
                self._terms,
                partial(_same, session),
                scope.collection_ids,
                scope.versions,
                found,
                partial(self._refreshed, table_rows=rows),
                self._load_terms,
            )
        weighted = [(t, fts5_idf(rows, hits.get(t, 0))) for t in phrases]
        return rank(entries, weighted, total_tokens / rows, limit)

    async def _table_statistics(
        self, session: AsyncSession, terms: list[str]
    ) -> tuple[int, int, dict[str, int]]:
        """(rows, tokens, rows holding each of `terms`) of the whole FTS5 table, as bm25() reads them.
        Rows holding a term cost a pass over its postings in FTS5: they are kept until FTS5's structure
        record (`%_data` row 10, rewritten by every write to the index) changes."""
        blocks: dict[int, bytes] = dict(
            (await session.execute(text("SELECT id, block FROM chunks_fts_data WHERE id IN (1, 10)"))).all()
        )
        rows, tokens = averages(blocks.get(1))
        structure = blocks.get(10) or b""
        if structure != self._hits_of or len(self._hits) > MAX_KEPT_TERMS:
            self._hits_of, self._hits = structure, {}
        # This snapshot's counts, held locally: a concurrent search that saw a newer structure may swap
        # in a new dict while this one awaits, and must not receive counts read from an older one.
        hits = self._hits
        unknown = sorted(set(terms) - set(hits))
        if unknown:
            stmt = text("SELECT term, doc FROM chunks_fts_vocab_row WHERE term IN :terms").bindparams(
                bindparam("terms", expanding=True)
            )
            found: dict[str, int] = dict((await session.execute(stmt, {"terms": unknown})).all())
            hits = {**hits, **{t: int(found.get(t, 0)) for t in unknown}}
            if self._hits_of == structure:
                self._hits = hits
        return rows, tokens, {t: hits[t] for t in terms}

    async def _fts5(self, session: AsyncSession) -> Fts5Tokenizer:
        """FTS5's tokenizer with the options of the chunks' index (read from its CREATE statement)."""
        if self._tokenizer is None:
            create = await session.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'"))
            self._tokenizer = Fts5Tokenizer(tokenizer_of(create or ""))
        return self._tokenizer

    async def _load_terms(
        self, session: AsyncSession, collection_id: int, entry: CollectionTerms, missing: list[str]
    ) -> None:
        """Each term's postings: FTS5 keeps one index for all collections, so they are read for all of
        them and at once cut to the collection's own chunks (never kept or ranked for another)."""
        for term in missing:
            docs = await session.scalar(
                text("SELECT group_concat(doc) FROM chunks_fts_vocab_instance WHERE term = :t"), {"t": term}
            )
            entry.postings[term] = entry.postings_of(*postings_from_instances(docs))

    async def _refreshed(
        self, session: AsyncSession, collection_id: int, version: tuple[int, int], table_rows: int
    ) -> CollectionTerms:
        """The collection's entry at `version`: after a write, the previous entry's postings plus those
        of the chunks written (their text tokenized by FTS5 again, `Fts5Tokenizer.postings`); else,
        when the collection is most of the table (FTS5's vocabulary is read whole) and fits the cap,
        every term's postings in one read."""
        sizes = (
            await session.execute(
                text(
                    "SELECT c.id, d.sz FROM chunks c JOIN chunks_fts_docsize d ON d.id = c.id "
                    "WHERE c.collection_id = :collection"
                ),
                {"collection": collection_id},
            )
        ).all()
        entry, added = self._terms.refresh(
            collection_id,
            version,
            np.fromiter((r[0] for r in sizes), dtype=np.int64, count=len(sizes)),
            np.fromiter((varint(r[1])[0] for r in sizes), dtype=np.float64, count=len(sizes)),
        )
        if entry.complete or entry.postings:  # carried over from the previous version
            for start in range(0, len(added), ADDED_BATCH):
                batch = [int(i) for i in added[start : start + ADDED_BATCH]]
                chunks = (
                    await session.execute(select(Chunk.id, Chunk.content).where(Chunk.id.in_(batch)))
                ).all()
                tokenizer = await self._fts5(session)
                for term, (ids, tf) in (await tokenizer.postings([(r[0], r[1]) for r in chunks])).items():
                    entry.add(term, ids, tf)
        elif 2 * len(entry.ids) >= table_rows and self._terms.fits_whole(entry):
            await self._load_all_postings(session, entry)
        self._terms.put(collection_id, entry)
        return entry

    @staticmethod
    async def _load_all_postings(session: AsyncSession, entry: CollectionTerms) -> None:
        stmt = text("SELECT term, group_concat(doc) FROM chunks_fts_vocab_instance GROUP BY term")
        for term, docs in await session.execute(stmt):
            postings = entry.postings_of(*postings_from_instances(docs))
            if len(postings.rows):
                entry.postings[term] = postings
        entry.complete = True

    async def lexical_fts(self, query: str, scope: SearchScope, limit: int) -> list[tuple[int, float]]:
        """FTS5 ranking the matching rows itself with bm25() (the cost grows with the rows matched)."""
        match = fts_query(query)
        if match is None:
            return []
        # chunks_fts (FTS5, created by migration 0005 on SQLite) is not part of the ORM metadata.
        fts = table("chunks_fts", column("rowid"))
        score = literal_column("-bm25(chunks_fts)", Float).label("score")
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
