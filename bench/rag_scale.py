"""Search latency at 10k and 100k chunks (SQLite). Chunks are written straight into the database with
random unit vectors and synthetic text (embedding 100k texts would dominate the run and does not change
search cost); queries go through the API like a user's.

    python -m bench.rag_scale [--sizes 10000 100000] [--queries 20]
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
        db.commit()
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "rag_scale.md"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lockgate-bench-scale-"))
    process, url = serve_lockgate(work, {"local_models": "on"})
    lines = ["| chunks | lexical p50 (ms) | semantic p50 (ms) | hybrid p50 (ms) |", "|---|---|---|---|"]
    try:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {MASTER}"}, timeout=600)
        collection = client.post("/v1/collections", json={"name": "scale"}).json()["id"]
        present = 0
        for size in sorted(args.sizes):
            fill(work / "data" / "lockgate.db", collection, size - present, present)
            present = size
            cells = []
            for method in ("lexical", "semantic", "hybrid"):
                timings = []
                for _ in range(args.queries):
                    query = " ".join(random.sample(WORDS, 3))
                    started = time.perf_counter()
                    response = client.post("/v1/search", json={"query": query, "method": method, "limit": 10})
                    response.raise_for_status()
                    timings.append((time.perf_counter() - started) * 1000)
                cells.append(f"{statistics.median(timings):.0f}")
            lines.append(f"| {size:,} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
        report = (
            "Search latency on SQLite, one collection, limit 10, median of queries\n\n"
            + "\n".join(lines)
            + "\n"
        )
        write_report(args.out, report)
    finally:
        stop(process)


if __name__ == "__main__":
    main()
