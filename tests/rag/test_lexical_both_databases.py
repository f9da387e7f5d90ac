"""Lexical search ranks a collection the same on SQLite and PostgreSQL: the same corpus indexed by each
store gives the same chunks in the same order with the same scores (FTS5's terms and bm25() on both,
ADR 0026); and migration 0019 rewrites PostgreSQL postings made by the older terms into FTS5's."""

from __future__ import annotations

import os
import random

import pytest
from sqlalchemy import select, text

from lockgate.kit.db import Database
from lockgate.migrate import upgrade
from lockgate.rag.chunk_store import SearchScope
from lockgate.rag.models import Chunk, ChunkTerm
from lockgate.rag.store_postgres import PostgresChunkStore
from lockgate.rag.store_sqlite import SqliteChunkStore
from tests import backends
from tests.rag.test_chunk_store import unit, write_collection

# Inflections the Porter stemmer folds, case and diacritics unicode61 folds, stop words (kept by FTS5,
# dropped by the older PostgreSQL terms), digits, hyphens and apostrophes (separators).
VOCABULARY = (
    "Search searching searches searched library libraries catalog CATALOGUE index indexing retrieval "
    "query queries document abstract citation journal café cafe Résumé resume naïve running runs ran "
    "the of and is not x2 2024 state-of-the-art user's information informational"
).split()


def corpus(seed: int, count: int) -> list[tuple[str, list[float]]]:
    rng = random.Random(seed)
    return [
        (" ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 40))), unit(i)) for i in range(count)
    ]


async def ranked_positions(db: Database, store, collection: int, query: str) -> list[tuple[int, float]]:
    """(chunk position in the corpus, score), best first: chunk ids may differ between databases."""
    hits = await store.lexical(query, SearchScope([collection]), 500)
    async with db.transaction() as session:
        position = dict(
            (
                await session.execute(
                    select(Chunk.id, Chunk.position).where(Chunk.collection_id == collection)
                )
            ).all()
        )
    return [(position[chunk_id], score) for chunk_id, score in hits]


@pytest.fixture
async def both(sqlite_template, postgres, tmp_path):
    found, reason = postgres
    if found is None:
        pytest.skip(reason)
    sqlite_db = Database(backends.fresh_sqlite(sqlite_template, tmp_path))
    postgres_db = Database(await backends.fresh_postgres(*found))
    yield (sqlite_db, SqliteChunkStore(sqlite_db)), (postgres_db, PostgresChunkStore(postgres_db))
    await sqlite_db.dispose()
    await postgres_db.dispose()


async def test_same_corpus_ranks_the_same_on_both_databases(both) -> None:
    texts = corpus(11, 120)
    collections = [await write_collection(db, store, texts) for db, store in both]
    rng = random.Random(12)
    queries = ["the", "searching libraries", "CAFE resume", "state-of-the-art retrieval", "unknownword"]
    for _ in range(25):
        words = rng.sample(VOCABULARY, rng.randint(1, 6))
        queries.append(
            " ".join(words + rng.sample(words, rng.randint(0, min(2, len(words)))))
        )  # repeats count twice
    for query in queries:
        (sqlite_db, sqlite_store), (postgres_db, postgres_store) = both
        on_sqlite = await ranked_positions(sqlite_db, sqlite_store, collections[0], query)
        on_postgres = await ranked_positions(postgres_db, postgres_store, collections[1], query)
        assert [p for p, _ in on_postgres] == [p for p, _ in on_sqlite], query
        for (_, mine), (_, theirs) in zip(on_postgres, on_sqlite, strict=True):
            assert mine == pytest.approx(theirs, rel=1e-12), query
        assert bool(on_sqlite) == (query != "unknownword"), query


async def postings(session) -> set[tuple[int, str, int]]:
    rows = await session.execute(select(ChunkTerm.chunk_id, ChunkTerm.term, ChunkTerm.tf))
    return {(r[0], r[1], r[2]) for r in rows}


async def test_migration_0019_rewrites_older_postgres_postings_as_fts5_terms(postgres, tmp_path) -> None:
    found, reason = postgres
    if found is None:
        pytest.skip(reason)
    server, _ = found
    name = f"lockgate_m0019_{os.getpid()}_{random.randrange(1 << 30)}"
    await server.execute(f"CREATE DATABASE {name}")
    url = server.database_url(name)
    upgrade(url, "0018")
    db = Database(url)
    try:
        store = PostgresChunkStore(db)
        collection = await write_collection(db, store, corpus(13, 30))
        async with db.transaction() as session:
            made = await postings(session)
            lengths = dict((await session.execute(select(Chunk.id, Chunk.length))).all())
            # as the older terms left them: other words, other lengths, a version the caches knew
            await session.execute(text("UPDATE chunk_terms SET term = 'old ' || term"))
            await session.execute(text("UPDATE chunks SET length = 1"))
            version = await session.scalar(text("SELECT vectors_version FROM collections"))
        upgrade(url, "head")
        async with db.transaction() as session:
            assert await postings(session) == made
            assert dict((await session.execute(select(Chunk.id, Chunk.length))).all()) == lengths
            assert await session.scalar(text("SELECT vectors_version FROM collections")) == version + 1
        assert await PostgresChunkStore(db).lexical("searching", SearchScope([collection]), 5)
    finally:
        await db.dispose()
        await server.execute(f"DROP DATABASE IF EXISTS {name}")
