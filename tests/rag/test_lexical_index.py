"""The PostgreSQL store's per-process BM25 index ranks exactly as the SQL over the postings it replaces
(same chunks, same scores), only within the collections searched, and follows writes and deletes."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import delete, select

from lockgate.kit.db import Database
from lockgate.rag import repository
from lockgate.rag.chunk_store import SearchScope, write_chunks
from lockgate.rag.lexical_index import LexicalCache
from lockgate.rag.models import Chunk, Collection
from lockgate.rag.search import to_blob
from lockgate.rag.store_postgres import PostgresChunkStore
from tests.rag.test_chunk_store import unit, write_collection

VOCABULARY = (
    "library catalog index retrieval query document abstract citation journal author subject search "
    "relevance ranking thesaurus vocabulary weighting boolean vector evaluation recall precision"
).split()


def corpus(seed: int, count: int) -> list[tuple[str, list[float]]]:
    rng = random.Random(seed)
    return [
        (" ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(3, 30))), unit(i)) for i in range(count)
    ]


def assert_same_ranking(cached: list[tuple[int, float]], sql: list[tuple[int, float]]) -> None:
    assert len(cached) == len(sql)
    for (cached_id, cached_score), (sql_id, sql_score) in zip(cached, sql, strict=True):
        assert cached_score == pytest.approx(sql_score, rel=1e-9)
        if cached_id != sql_id:  # only a tie may be ordered differently (float sums in another order)
            assert dict(sql).get(cached_id, dict(cached)[sql_id]) == pytest.approx(sql_score, rel=1e-9)


@pytest.fixture
async def postgres_store(postgres):
    found, reason = postgres
    if found is None:
        pytest.skip(reason)
    from tests import backends

    db = Database(await backends.fresh_postgres(*found))
    yield db, PostgresChunkStore(db)
    await db.dispose()


@pytest.mark.parametrize("whole", [True, False], ids=["whole-collection", "term-by-term"])
async def test_cached_bm25_ranks_as_the_sql_over_postings(postgres_store, whole: bool) -> None:
    """Collections within the cap load all their postings at once; larger ones term by term."""
    db, store = postgres_store
    if not whole:
        store._terms = LexicalCache(max_bytes=1)
    mine = await write_collection(db, store, corpus(1, 80))
    other = await write_collection(db, store, corpus(2, 40))
    rng = random.Random(3)
    for _ in range(12):
        query = " ".join(rng.sample(VOCABULARY, rng.randint(1, 4))) + " unknownword"
        for scope in (SearchScope([mine]), SearchScope([mine, other])):
            for limit in (5, 200):
                cached = await store.lexical(query, scope, limit)
                sql = await store.lexical_sql(store.phrases(query), scope, limit)
                assert cached, query
                assert_same_ranking(cached, sql)
    assert await store.lexical("unknownword", SearchScope([mine]), 10) == []


async def test_cached_bm25_ranks_only_the_collections_searched_and_follows_writes(postgres_store) -> None:
    db, store = postgres_store
    mine = await write_collection(db, store, corpus(4, 30))
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
            content="zebra crossing",
            metadata_={},
            embedding=to_blob(unit(91)),
        )
        session.add(row)
        await session.flush()
        await store.index(session, [row])
        await repository.bump_vectors(session, mine)
    hits = await store.lexical("zebra", SearchScope([mine]), 10)
    assert [chunk_id for chunk_id, _ in hits] == [row.id]
    assert hits == await store.lexical_sql(["zebra"], SearchScope([mine]), 10)

    async with db.transaction() as session:
        await session.execute(delete(Collection).where(Collection.id == mine))
    assert await store.lexical("zebra", SearchScope([mine]), 10) == []


async def change_collection(
    db: Database, store, collection_id: int, rng: random.Random, texts: list[str]
) -> None:
    """As ingestion and document deletes do: new chunks (`texts`) and a few of the collection's chunks
    deleted, each in a transaction that moves the collection's version."""
    async with db.transaction() as session:
        ids = list(
            (await session.execute(select(Chunk.id).where(Chunk.collection_id == collection_id))).scalars()
        )
        document = await session.scalar(select(Chunk.document_id).where(Chunk.collection_id == collection_id))
        rows = [
            Chunk(
                document_id=document,
                collection_id=collection_id,
                position=1000 + rng.randint(0, 1 << 20),
                content=content,
                metadata_={},
                embedding=to_blob(unit(i)),
            )
            for i, content in enumerate(texts)
        ]
        await write_chunks(store, session, rows)
    async with db.transaction() as session:
        await session.execute(
            delete(Chunk).where(Chunk.id.in_(rng.sample(ids, min(len(ids), rng.randint(1, 3)))))
        )
        await repository.bump_vectors(session, collection_id)


@pytest.mark.parametrize("whole", [True, False], ids=["whole-collection", "term-by-term"])
async def test_cached_bm25_follows_writes_and_deletes_without_reloading(
    postgres_store, whole, monkeypatch
) -> None:
    """After a write, the index keeps the postings it had and reads only the new chunks' (never the
    whole collection again), and still ranks exactly as the SQL."""
    db, store = postgres_store
    if not whole:
        store._terms = LexicalCache(max_bytes=40_000)  # too small for `mine` whole, room for a few terms
    mine = await write_collection(db, store, corpus(5, 60))
    other = await write_collection(db, store, corpus(6, 10))
    rng = random.Random(7)
    await store.lexical(" ".join(VOCABULARY), SearchScope([mine, other]), 10)
    whole_reads: list[int] = []
    load = PostgresChunkStore._load_all_postings

    async def counted(session, collection_id: int, entry) -> None:
        whole_reads.append(collection_id)
        await load(session, collection_id, entry)

    monkeypatch.setattr(PostgresChunkStore, "_load_all_postings", staticmethod(counted))
    for step in range(5):
        await change_collection(db, store, mine, rng, [t for t, _ in corpus(100 + step, rng.randint(1, 4))])
        for _ in range(3):
            query = " ".join(rng.sample(VOCABULARY, rng.randint(1, 4)))
            for scope in (SearchScope([mine]), SearchScope([mine, other])):
                cached = await store.lexical(query, scope, 500)
                assert_same_ranking(cached, await store.lexical_sql(store.phrases(query), scope, 500))
    assert whole_reads == []
