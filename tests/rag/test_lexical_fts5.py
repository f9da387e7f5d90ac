"""The SQLite store's per-process BM25 index ranks exactly as FTS5's bm25() (same chunks, same order,
same scores) on random corpora and scopes, only within the collections searched, and follows writes
and deletes; queries it cannot rank (words FTS5 splits into a phrase) are left to FTS5."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import delete, text

from lockgate.kit.db import Database
from lockgate.rag import repository
from lockgate.rag.chunk_store import SearchScope
from lockgate.rag.fts5_index import Fts5Tokenizer, averages
from lockgate.rag.lexical_index import LexicalCache
from lockgate.rag.models import Chunk, Collection
from lockgate.rag.search import to_blob
from lockgate.rag.store_sqlite import SqliteChunkStore
from tests import backends
from tests.rag.test_chunk_store import unit, write_collection
from tests.rag.test_lexical_index import change_collection

# Inflections FTS5's Porter stemmer folds together, case and diacritics unicode61 folds, digits.
VOCABULARY = (
    "Search searching searches searched library libraries catalog CATALOGUE index indexing retrieval "
    "query queries document abstract citation journal café cafe Résumé resume naïve running runs ran "
    "vector vectors boolean evaluation recall precision x2 2024 the of and"
).split()


def corpus(seed: int, count: int) -> list[tuple[str, list[float]]]:
    rng = random.Random(seed)
    return [
        (" ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 30))), unit(i)) for i in range(count)
    ]


@pytest.fixture
async def sqlite_store(sqlite_template, tmp_path):
    db = Database(backends.fresh_sqlite(sqlite_template, tmp_path))
    yield db, SqliteChunkStore(db)
    await db.dispose()


def assert_same_as_fts5(indexed: list[tuple[int, float]], fts5: list[tuple[int, float]]) -> None:
    assert [chunk_id for chunk_id, _ in indexed] == [chunk_id for chunk_id, _ in fts5]
    for (_, mine), (_, theirs) in zip(indexed, fts5, strict=True):
        assert mine == pytest.approx(theirs, rel=1e-12)


@pytest.mark.parametrize("whole", [True, False], ids=["whole-collection", "term-by-term"])
async def test_index_ranks_as_fts5_bm25_on_random_corpora_and_scopes(sqlite_store, whole: bool) -> None:
    db, store = sqlite_store
    if not whole:
        store._terms = LexicalCache(max_bytes=1)
    big = await write_collection(db, store, corpus(1, 150))  # most of the table: loaded whole
    small = await write_collection(db, store, corpus(2, 40))
    tiny = await write_collection(db, store, corpus(3, 5))
    rng = random.Random(4)
    scopes = [SearchScope([big]), SearchScope([small]), SearchScope([big, small]), SearchScope([tiny, big])]
    for _ in range(15):
        words = rng.sample(VOCABULARY, rng.randint(1, 5))
        query = " ".join(words + rng.sample(words, rng.randint(0, 1)) + ["unknownword"])  # a repeat too
        for scope in scopes:
            for limit in (3, 500):
                indexed = await store.lexical(query, scope, limit)
                assert indexed, query
                assert_same_as_fts5(indexed, await store.lexical_fts(query, scope, limit))
    assert await store.lexical("unknownword", SearchScope([big]), 10) == []
    assert await store.lexical("?!", SearchScope([big]), 10) == []


@pytest.mark.parametrize("whole", [True, False], ids=["whole-collection", "term-by-term"])
async def test_index_follows_writes_and_deletes_without_reloading(sqlite_store, whole, monkeypatch) -> None:
    """After a write, the index keeps the postings it had and adds only the new chunks' (their text
    tokenized by FTS5 again, never the whole vocabulary read again), and still ranks as FTS5."""
    db, store = sqlite_store
    if not whole:
        store._terms = LexicalCache(max_bytes=40_000)  # too small for `mine` whole, room for a few terms
    mine = await write_collection(db, store, corpus(6, 60))
    other = await write_collection(db, store, corpus(7, 10))
    rng = random.Random(8)
    await store.lexical(" ".join(VOCABULARY), SearchScope([mine, other]), 10)
    whole_reads: list[int] = []
    load = SqliteChunkStore._load_all_postings

    async def counted(session, entry) -> None:
        whole_reads.append(len(entry.ids))
        await load(session, entry)

    monkeypatch.setattr(SqliteChunkStore, "_load_all_postings", staticmethod(counted))
    for step in range(5):
        await change_collection(db, store, mine, rng, [t for t, _ in corpus(100 + step, rng.randint(1, 4))])
        for _ in range(3):
            query = " ".join(rng.sample(VOCABULARY, rng.randint(1, 4)))
            for scope in (SearchScope([mine]), SearchScope([other]), SearchScope([mine, other])):
                assert_same_as_fts5(
                    await store.lexical(query, scope, 500), await store.lexical_fts(query, scope, 500)
                )
    assert whole_reads == []


async def test_ranks_only_the_collections_searched_and_follows_writes_and_deletes(sqlite_store) -> None:
    db, store = sqlite_store
    mine = await write_collection(db, store, corpus(5, 30))
    other = await write_collection(db, store, [("zebra zebra zebra", unit(90))])
    assert await store.lexical("zebra", SearchScope([mine]), 10) == []  # the other tenant's chunk
    assert len(await store.lexical("zebra", SearchScope([other]), 10)) == 1

    async with db.transaction() as session:  # a write to `mine`, as ingestion does it
        row = Chunk(
            document_id=await session.scalar(
                Chunk.__table__.select()
                .with_only_columns(Chunk.document_id)
                .where(Chunk.collection_id == mine)
            ),
            collection_id=mine,
            position=99,
            content="zebras crossing",
            metadata_={},
            embedding=to_blob(unit(91)),
        )
        session.add(row)
        await session.flush()
        await repository.bump_vectors(session, mine)
    hits = await store.lexical("zebra", SearchScope([mine]), 10)
    assert [chunk_id for chunk_id, _ in hits] == [row.id]
    assert_same_as_fts5(hits, await store.lexical_fts("zebra", SearchScope([mine]), 10))

    async with db.transaction() as session:
        await session.execute(delete(Chunk).where(Chunk.id == row.id))
        await repository.bump_vectors(session, mine)
    assert await store.lexical("zebra", SearchScope([mine]), 10) == []
    async with db.transaction() as session:
        await session.execute(delete(Collection).where(Collection.id == other))
    assert await store.lexical("zebra", SearchScope([other]), 10) == []


async def test_words_fts5_splits_into_a_phrase_are_ranked_by_fts5(sqlite_store) -> None:
    db, store = sqlite_store
    mine = await write_collection(
        db, store, [("snake case code", unit(1)), ("snake_case everywhere", unit(2)), ("case snake", unit(3))]
    )
    hits = await store.lexical("snake_case", SearchScope([mine]), 10)
    assert hits == await store.lexical_fts("snake_case", SearchScope([mine]), 10)
    async with db.transaction() as session:
        ids = dict((await session.execute(text("SELECT content, id FROM chunks"))).all())
    # the phrase "snake case": its tokens adjacent and in order only
    assert sorted(chunk_id for chunk_id, _ in hits) == [ids["snake case code"], ids["snake_case everywhere"]]
    assert await store.lexical("_", SearchScope([mine]), 10) == await store.lexical_fts(
        "_", SearchScope([mine]), 10
    )


async def test_statistics_are_fts5s_own(sqlite_store) -> None:
    db, store = sqlite_store
    await write_collection(db, store, [("Running runs", unit(1)), ("a café, the CAFE", unit(2))])
    async with db.transaction() as session:
        block = await session.scalar(text("SELECT block FROM chunks_fts_data WHERE id = 1"))
        sizes = await session.scalar(text("SELECT count(*) FROM chunks_fts_docsize"))
    assert averages(block) == (sizes, 6)
    words = Fts5Tokenizer("porter unicode61")
    assert words.tokens(["Running", "runs", "CAFÉ", "snake_case", "_"]) == [
        ("run",),
        ("run",),
        ("cafe",),
        ("snake", "case"),
        (),
    ]
    # a query with more distinct words than the cache keeps still gets every word's tokens
    small = Fts5Tokenizer("porter unicode61", max_words=5)
    assert small.tokens([f"w{i}" for i in range(8)]) == [(f"w{i}",) for i in range(8)]
