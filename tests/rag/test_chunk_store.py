"""The chunk store protocol, one suite for both implementations: SQLite (FTS5 + exact matrix) and
PostgreSQL (BM25 postings + pgvector HNSW)."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text

from lockgate.identity.models import Role, User
from lockgate.kit.db import Database
from lockgate.rag.chunk_store import SearchScope, chunk_store_for
from lockgate.rag.models import Chunk, Collection, Document
from lockgate.rag.search import to_blob
from lockgate.rag.store_postgres import PostgresChunkStore
from tests import backends

DIMENSIONS = 8


def unit(seed: int) -> list[float]:
    return list(np.random.default_rng(seed).normal(size=DIMENSIONS))


def away(vector: list[float], step: float) -> list[float]:
    """`vector` pushed `step` along a direction orthogonal to it: cosine falls as `step` grows."""
    v = np.asarray(vector)
    side = np.asarray(unit(50))
    side -= (side @ v) / (v @ v) * v
    return list(v / np.linalg.norm(v) + step * side / np.linalg.norm(side))


@pytest.fixture
async def store_db(database_url: str):
    db = Database(database_url)
    yield db
    await db.dispose()


@pytest.fixture
async def postgres_db(postgres):
    """PostgreSQL only: HNSW is the PostgreSQL store's index (SQLite ranks an exact in-memory matrix)."""
    found, reason = postgres
    if found is None:
        pytest.skip(reason)
    db = Database(await backends.fresh_postgres(*found))
    yield db
    await db.dispose()


async def write_collection(
    db: Database, store, texts_and_vectors: list[tuple[str, list[float]]], group: str = ""
) -> int:
    await store.prepare(DIMENSIONS)
    async with db.transaction() as session:
        role = await session.scalar(text("SELECT id FROM roles LIMIT 1"))
        if role is None:
            new_role = Role(name="store-test")
            session.add(new_role)
            await session.flush()
            role = new_role.id
        user = User(email=f"u{np.random.randint(1 << 30)}@test", role_id=role)
        session.add(user)
        await session.flush()
        collection = Collection(name="c", owner_id=user.id)
        session.add(collection)
        await session.flush()
        document = Document(collection_id=collection.id, name="d", chunks=len(texts_and_vectors))
        session.add(document)
        await session.flush()
        rows = [
            Chunk(
                document_id=document.id,
                collection_id=collection.id,
                position=i,
                content=content,
                metadata_={"i": str(i), "group": group},
                embedding=to_blob(vector),
            )
            for i, (content, vector) in enumerate(texts_and_vectors)
        ]
        session.add_all(rows)
        await session.flush()
        await store.index(session, rows)
        return collection.id


async def test_semantic_ranks_by_cosine_within_the_scope_only(store_db: Database) -> None:
    store = chunk_store_for(store_db)
    target = unit(1)
    close = [(f"text {i}", away(target, 0.2 * (i + 1))) for i in range(5)]
    mine = await write_collection(store_db, store, [*close, ("far", unit(99))])
    other = await write_collection(store_db, store, [("foreign twin", target)])  # the best match, not ours
    hits = await store.semantic(target, SearchScope([mine]), limit=3, threshold=-1.0)
    async with store_db.transaction() as session:
        contents = {row[0]: row[1] for row in await session.execute(text("SELECT id, content FROM chunks"))}
    assert [contents[i] for i, _ in hits] == ["text 0", "text 1", "text 2"]
    assert hits[0][1] > hits[1][1] > hits[2][1]
    assert all(-1.0 <= score <= 1.0001 for _, score in hits)
    everything = await store.semantic(target, SearchScope([mine, other]), limit=1, threshold=-1.0)
    assert contents[everything[0][0]] == "foreign twin"
    above = await store.semantic(target, SearchScope([mine]), limit=10, threshold=0.9)
    assert 1 <= len(above) < 6 and all(score >= 0.9 for _, score in above)
    filtered = await store.semantic(
        target, SearchScope([mine], metadata={"key": "i", "value": "4"}), limit=10, threshold=-1.0
    )
    assert [contents[i] for i, _ in filtered] == ["text 4"]


async def test_lexical_ranks_by_bm25_within_the_scope_only(store_db: Database) -> None:
    store = chunk_store_for(store_db)
    texts = [
        "the cat sat on the mat",
        "dogs and cats are pets; the cat is a pet",
        "a treatise on monetary policy",
        "cat cat cat: a study of cats",
    ]
    mine = await write_collection(store_db, store, [(t, unit(i)) for i, t in enumerate(texts)])
    await write_collection(store_db, store, [("cat cat cat cat cat", unit(7))])
    hits = await store.lexical("cat", SearchScope([mine]), limit=10)
    async with store_db.transaction() as session:
        contents = {row[0]: row[1] for row in await session.execute(text("SELECT id, content FROM chunks"))}
    found = [contents[i] for i, _ in hits]
    assert "a treatise on monetary policy" not in found and "cat cat cat cat cat" not in found
    assert found[0] == "cat cat cat: a study of cats"
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert await store.lexical("!!!", SearchScope([mine]), limit=10) == []


async def test_postgres_semantic_search_can_use_the_hnsw_index(postgres_db: Database) -> None:
    store_db = postgres_db
    store = chunk_store_for(store_db)
    assert isinstance(store, PostgresChunkStore)
    mine = await write_collection(store_db, store, [(f"t{i}", unit(i)) for i in range(2000)])
    async with store_db.transaction() as session:
        indexes = await session.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'chunks'"))
        assert f"ix_chunks_vector_hnsw_{DIMENSIONS}" in {row[0] for row in indexes}
        await session.execute(text("ANALYZE chunks"))
        for scan in ("seqscan", "bitmapscan"):  # too few rows for the planner to want an index otherwise
            await session.execute(text(f"SET LOCAL enable_{scan} = off"))
        stmt = store.nearest_statement(DIMENSIONS, SearchScope([mine]), limit=5, exact=False)
        stmt = stmt.params(query="[" + ",".join(["0.1"] * DIMENSIONS) + "]")
        compiled = stmt.compile(session.bind, compile_kwargs={"literal_binds": True})
        plan = await session.execute(text(f"EXPLAIN {compiled}"))
        assert f"ix_chunks_vector_hnsw_{DIMENSIONS}" in " ".join(row[0] for row in plan)


async def test_postgres_falls_back_to_exact_ranking_when_hnsw_candidates_are_filtered_away(
    postgres_db: Database,
) -> None:
    """pgvector filters after the index scan: when the caller's filters discard the index's candidates,
    the store must rank the scope exactly rather than return too few hits."""
    store_db = postgres_db
    store = chunk_store_for(store_db)
    target = unit(1)
    crowd = [(f"crowd {i}", away(target, 0.01 * i)) for i in range(2000)]
    crowd_id = await write_collection(store_db, store, crowd, group="crowd")
    wanted = [(f"wanted {i}", unit(100 + i)) for i in range(3)]
    wanted_id = await write_collection(store_db, store, wanted, group="wanted")
    async with store_db.transaction() as session:
        await session.execute(text("ANALYZE chunks"))
        database = (await session.execute(text("SELECT current_database()"))).scalar_one()
        for scan in ("seqscan", "bitmapscan"):  # make the planner take the HNSW index, as at scale
            await session.execute(text(f'ALTER DATABASE "{database}" SET enable_{scan} = off'))
    await store_db.dispose()  # new connections pick the settings up
    only_wanted = SearchScope([crowd_id, wanted_id], metadata={"key": "group", "value": "wanted"})
    approximate = await store.nearest(target, only_wanted, 3, exact=False)
    assert len(approximate) < 3  # the index's candidates were all crowd, filtered away
    hits = await store.semantic(target, only_wanted, limit=3, threshold=-1.0)
    async with store_db.transaction() as session:
        contents = {row[0]: row[1] for row in await session.execute(text("SELECT id, content FROM chunks"))}
    assert sorted(contents[i] for i, _ in hits) == ["wanted 0", "wanted 1", "wanted 2"]


async def test_replicas_preparing_the_same_hnsw_index_at_once_all_succeed(postgres_db: Database) -> None:
    """`CREATE INDEX IF NOT EXISTS` is not atomic: concurrent builders can collide in the catalog."""
    import asyncio

    stores = [PostgresChunkStore(postgres_db) for _ in range(6)]
    await asyncio.gather(*(store.prepare(DIMENSIONS + 1) for store in stores))
    async with postgres_db.transaction() as session:
        indexes = await session.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'chunks'"))
        assert f"ix_chunks_vector_hnsw_{DIMENSIONS + 1}" in {row[0] for row in indexes}


async def test_versions_read_with_the_access_check_serve_the_cached_indexes(store_db: Database) -> None:
    """A search reads the collections' cache versions with its access check (`readable_versions`) and
    hands them to the store: rankings equal those of a scope without them, a write (version moved) is
    seen by the next search, and once the indexes are current the PostgreSQL lexical index and the
    SQLite vector matrix answer without opening a transaction."""
    from lockgate.rag import repository
    from lockgate.rag.access import readable_versions

    store = chunk_store_for(store_db)
    texts = ["the cat sat on the mat", "cat cat cat: a study of cats", "a treatise on monetary policy"]
    mine = await write_collection(store_db, store, [(t, unit(i)) for i, t in enumerate(texts)])
    other = await write_collection(store_db, store, [("cat cat cat cat cat", unit(7))])
    async with store_db.transaction() as session:
        owner = await session.scalar(text("SELECT owner_id FROM collections WHERE id = :c"), {"c": mine})
        versions = await readable_versions(session, owner, None)
    assert list(versions) == [mine]  # the other user's collection is not readable, so not versioned

    def scope(given: dict[int, tuple[int, int]] | None) -> SearchScope:
        return SearchScope([mine], versions=given)

    assert await store.lexical("cat", scope(versions), 10) == await store.lexical("cat", scope(None), 10)
    semantic = await store.semantic(unit(1), scope(versions), 10, -1.0)
    assert semantic == await store.semantic(unit(1), scope(None), 10, -1.0)

    opened: list[int] = []
    transaction = store_db.transaction

    def counted():
        opened.append(1)
        return transaction()

    store_db.transaction = counted  # type: ignore[method-assign]
    try:
        if isinstance(store, PostgresChunkStore):
            assert await store.lexical("cat study", scope(versions), 10)
        else:
            assert await store.semantic(unit(1), scope(versions), 10, -1.0) == semantic
        assert opened == []
    finally:
        store_db.transaction = transaction  # type: ignore[method-assign]

    async with store_db.transaction() as session:  # a write, as ingestion does it
        document = await session.scalar(
            text("SELECT id FROM documents WHERE collection_id = :c"), {"c": mine}
        )
        row = Chunk(
            document_id=document,
            collection_id=mine,
            position=9,
            content="zebra crossing",
            metadata_={},
            embedding=to_blob(unit(40)),
        )
        session.add(row)
        await session.flush()
        await store.index(session, [row])
        await repository.bump_vectors(session, mine)
        moved = await readable_versions(session, owner, [mine, other])
    assert moved[mine] != versions[mine] and list(moved) == [mine]
    assert [i for i, _ in await store.lexical("zebra", scope(moved), 10)] == [row.id]
    assert (await store.semantic(unit(40), scope(moved), 1, -1.0))[0][0] == row.id


def test_a_search_scope_cannot_name_versions_wider_than_its_collections() -> None:
    """The stores rank the collections `versions` names; a caller passing more than the access-checked
    `collection_ids` would widen a tenant's search, so the scope refuses to exist."""
    SearchScope([1, 2], versions={1: (0, 0)})
    with pytest.raises(ValueError):
        SearchScope([1], versions={1: (0, 0), 2: (0, 0)})
