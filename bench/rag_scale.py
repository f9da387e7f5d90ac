"""Search latency at 10k and 100k chunks, on SQLite or PostgreSQL (pgvector HNSW). Chunks are written
straight into the database with random unit vectors and synthetic text (embedding 100k texts would
dominate the run and does not change search cost), indexed as the chunk store indexes them; queries go
through the API like a user's.

    python -m bench.rag_scale [--postgres] [--sizes 10000 100000] [--queries 20]
                              [--methods lexical semantic hybrid]

The lexical columns are the API's (per-process BM25 index, `rag/lexical_index.py`: its first query
after the fill loads the collection) and, in the same run, on the same chunks, in the bench process, the
rankings it replaced: FTS5's bm25() on SQLite; on PostgreSQL the BM25 summed by the database and the
index loading each term's postings on its first query (ADR 0021). "no-match" is a lexical search of
words in no chunk: the route's cost without ranking. Without semantic or hybrid, no HNSW index is built
(its upkeep dominates the fill).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from bench.common import MASTER, ROOT, serve_lockgate, stop, write_report

WORDS = (
    "library catalog index retrieval query document abstract citation journal author subject classification "
    "search relevance ranking thesaurus vocabulary term weighting boolean vector probabilistic evaluation "
    "recall precision user information system science research analysis indexing automatic manual"
).split()


INSERT_CHUNK = (
    "INSERT INTO chunks (document_id, collection_id, position, content, metadata, embedding, length, "
    "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def fill(db_path: Path, collection: int, count: int, start: int) -> None:
    rng = np.random.default_rng(start)
    db = sqlite3.connect(db_path)
    try:
        cur = db.execute(
            "INSERT INTO documents (collection_id, name, chunks, created) VALUES (?, ?, ?, 0)",
            (collection, f"synthetic-{start}", count),
        )
        document = cur.lastrowid
        batch = []
        for i in range(count):
            vector = rng.standard_normal(384).astype(np.float32)
            vector /= np.linalg.norm(vector)
            text = " ".join(random.choice(WORDS) for _ in range(40))
            batch.append((document, collection, i, text, "{}", vector.tobytes(), 40, 0))
            if len(batch) == 5000:
                db.executemany(
                    INSERT_CHUNK,
                    batch,
                )
                batch = []
        if batch:
            db.executemany(
                INSERT_CHUNK,
                batch,
            )
        # As ingestion does: the per-process caches reload a collection whose version moved.
        db.execute("UPDATE collections SET vectors_version = vectors_version + 1 WHERE id = ?", (collection,))
        db.commit()
    finally:
        db.close()


def fill_postgres(database_url: str, collection: int, count: int, start: int, hnsw: bool) -> None:
    """The same synthetic chunks in PostgreSQL, with what PostgresChunkStore.index writes: BM25 postings
    and the pgvector copy of each vector (then the store builds its HNSW index)."""
    import asyncio

    import asyncpg

    from lockgate.kit.db import Database
    from lockgate.rag.fts5_index import CHUNKS_TOKENIZE, Fts5Tokenizer
    from lockgate.rag.store_postgres import PostgresChunkStore, vector_literal

    rng = np.random.default_rng(start)

    async def run() -> None:
        dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
        host = dsn.split("host=")[1]
        connection = await asyncpg.connect(host=host, user="postgres", database="postgres")
        try:
            document = await connection.fetchval(
                "INSERT INTO documents (collection_id, name, chunks, created, size, pages, metadata, "
                "updated) VALUES ($1, $2, $3, 0, 0, 0, '{}', 0) RETURNING id",
                collection,
                f"synthetic-{start}",
                count,
            )
            texts, vectors = [], []
            for _ in range(count):
                vector = rng.standard_normal(384).astype(np.float32)
                vector /= np.linalg.norm(vector)
                vectors.append(vector)
                texts.append(" ".join(random.choice(WORDS) for _ in range(40)))
            counted: list[dict[str, int]] = [{} for _ in texts]  # FTS5's terms, as the store indexes
            tokenized = await Fts5Tokenizer(CHUNKS_TOKENIZE).postings(list(enumerate(texts)))
            for term, (rows, tfs) in tokenized.items():
                for i, tf in zip(rows.tolist(), tfs.tolist(), strict=True):
                    counted[i][term] = int(tf)
            await connection.copy_records_to_table(
                "chunks",
                columns=[
                    "document_id",
                    "collection_id",
                    "position",
                    "content",
                    "metadata",
                    "embedding",
                    "length",
                    "created",
                ],
                records=[
                    (document, collection, i, text, "{}", vectors[i].tobytes(), sum(counted[i].values()), 0)
                    for i, text in enumerate(texts)
                ],
            )
            ids = [
                r["id"]
                for r in await connection.fetch(
                    "SELECT id FROM chunks WHERE document_id = $1 ORDER BY position", document
                )
            ]
            await connection.copy_records_to_table(
                "chunk_terms",
                columns=["term", "chunk_id", "tf"],
                records=[
                    (t, chunk_id, tf) for chunk_id, c in zip(ids, counted, strict=True) for t, tf in c.items()
                ],
            )
            await connection.execute("CREATE TEMP TABLE staged (id integer, v text)")
            await connection.copy_records_to_table(
                "staged", records=[(i, vector_literal(v)) for i, v in zip(ids, vectors, strict=True)]
            )
            await connection.execute(
                "UPDATE chunks SET vector = CAST(staged.v AS vector) FROM staged WHERE chunks.id = staged.id"
            )
            await connection.execute(
                "UPDATE collections SET vectors_version = vectors_version + 1 WHERE id = $1", collection
            )
            await connection.execute("ANALYZE chunks")
            # Room for the HNSW build in memory (the default 64 MB makes a 100k-vector build crawl).
            await connection.execute("ALTER DATABASE postgres SET maintenance_work_mem = '1GB'")
        finally:
            await connection.close()
        if not hnsw:
            return
        db = Database(database_url)
        try:
            await PostgresChunkStore(db).prepare(384)
        finally:
            await db.dispose()

    asyncio.run(run())


def lexical_before_p50(database_url: str, collection: int, queries: int) -> dict[str, float]:
    """Median ms of the lexical rankings the stores used before their whole-collection index, called in
    this process on the bench's collection: on SQLite FTS5 ranking with bm25() (still its path for
    filtered searches); on PostgreSQL the BM25 summed by the database, and the per-process index
    loading each term's postings when a query first asks for it (ADR 0021), from a fresh process."""
    import asyncio

    from lockgate.kit.db import Database, is_sqlite
    from lockgate.rag.chunk_store import SearchScope
    from lockgate.rag.lexical_index import LexicalCache
    from lockgate.rag.store_postgres import PostgresChunkStore
    from lockgate.rag.store_sqlite import SqliteChunkStore

    async def timed(search) -> float:
        timings = []
        for _ in range(queries):
            query = " ".join(random.sample(WORDS, 3))
            started = time.perf_counter()
            await search(query)
            timings.append((time.perf_counter() - started) * 1000)
        return statistics.median(timings)

    async def run() -> dict[str, float]:
        db = Database(database_url)
        scope = SearchScope([collection])
        try:
            if is_sqlite(database_url):
                fts5 = SqliteChunkStore(db)
                return {"FTS5 bm25()": await timed(lambda q: fts5.lexical_fts(q, scope, 10))}
            store = PostgresChunkStore(db)
            store._terms = LexicalCache(max_bytes=1)  # too small for a whole collection: term by term
            return {
                "SQL": await timed(lambda q: store.lexical_sql(store.phrases(q), scope, 10)),
                "per-term index": await timed(lambda q: store.lexical(q, scope, 10)),
            }
        finally:
            await db.dispose()

    return asyncio.run(run())


def no_match_p50(client: httpx.Client, queries: int) -> float:
    """Median ms of a lexical search whose words are in no chunk: the route's own cost (key, access,
    transactions, HTTP) under the ranking, on this machine at this moment."""
    timings = []
    for i in range(queries):
        started = time.perf_counter()
        body = {"query": f"zzqx{i} qqzv{i}", "method": "lexical", "limit": 10}
        client.post("/v1/search", json=body).raise_for_status()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL (pgserver) instead of SQLite")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["lexical", "semantic", "hybrid"],
        choices=["lexical", "semantic", "hybrid"],
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    backend = "postgres" if args.postgres else "sqlite"
    out = args.out or str(ROOT / "bench" / "results" / f"rag_scale_{backend}.md")
    work = Path(tempfile.mkdtemp(prefix="lockgate-bench-scale-"))
    config: dict = {"local_models": "on"}
    if args.postgres:
        import pgserver

        server = pgserver.get_server(work / "pg", cleanup_mode="stop")
        socket_dir = server.get_uri().split("host=")[1]
        config["database_url"] = f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}"
    process, url = serve_lockgate(work, config)
    methods = [m for m in ("lexical", "semantic", "hybrid") if m in args.methods]
    before = (["SQL", "per-term index"] if args.postgres else ["FTS5 bm25()"]) if "lexical" in methods else []
    database_url = config.get("database_url") or f"sqlite+aiosqlite:///{work / 'data' / 'lockgate.db'}"
    titles = [f"{m} p50 (ms)" for m in methods]
    if before:
        titles.insert(1, "lexical 1st query (ms)")
        titles.insert(2, "no-match query p50 (ms)")
        titles += [f"before: lexical {name} p50 (ms)" for name in before]
    lines = ["| chunks | " + " | ".join(titles) + " |", "|---" * (len(titles) + 1) + "|"]
    try:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {MASTER}"}, timeout=600)
        collection = client.post("/v1/collections", json={"name": "scale"}).json()["id"]
        present = 0
        for size in sorted(args.sizes):
            if args.postgres:
                started = time.perf_counter()
                fill_postgres(
                    config["database_url"], collection, size - present, present, hnsw=methods != ["lexical"]
                )
                print(
                    f"filled and indexed {size:,} chunks in {time.perf_counter() - started:.0f} s", flush=True
                )
            else:
                fill(work / "data" / "lockgate.db", collection, size - present, present)
            present = size
            cells = []
            for method in methods:
                timings = []
                for _ in range(args.queries):
                    query = " ".join(random.sample(WORDS, 3))
                    started = time.perf_counter()
                    response = client.post("/v1/search", json={"query": query, "method": method, "limit": 10})
                    response.raise_for_status()
                    timings.append((time.perf_counter() - started) * 1000)
                cells.append(f"{statistics.median(timings):.0f}")
                if method == "lexical":  # the one that loads the collection's index after a write
                    cells.append(f"{timings[0]:.0f}")
                    cells.append(f"{no_match_p50(client, args.queries):.0f}")
            if before:
                timed = lexical_before_p50(database_url, collection, args.queries)
                cells += [f"{timed[name]:.0f}" for name in before]
            lines.append(f"| {size:,} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
        report = (
            f"Search latency on {backend}, one collection, limit 10, median of queries\n\n"
            + "\n".join(lines)
            + "\n"
        )
        write_report(out, report)
    finally:
        stop(process)


if __name__ == "__main__":
    main()
