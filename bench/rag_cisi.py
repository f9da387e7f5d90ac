"""Retrieval quality on CISI (1,460 abstracts, 112 queries, human relevance judgments): nDCG@10 and
recall@100 of Lockgate's lexical, semantic and hybrid search, next to a reference BM25 (`bm25s`) computed
in the same run; plus ingest documents/s and search latency at this size.

    python -m bench.rag_cisi [--dataset ../shared/datasets/cisi] [--out bench/results/rag_cisi.md]
"""

from __future__ import annotations

import argparse
import io
import math
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import MASTER, ROOT, serve_lockgate, stop, write_report


def read_records(path: Path) -> dict[int, dict[str, str]]:
    """CISI's `.I id` / `.T` / `.W` ... format."""
    records: dict[int, dict[str, str]] = {}
    current: dict[str, str] | None = None
    field = None
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith(".I "):
            current = {}
            records[int(line.split()[1])] = current
            field = None
        elif re.match(r"^\.[A-Z]$", line):
            field = line[1]
            current[field] = ""
        elif current is not None and field:
            current[field] += line + "\n"
    return records


def read_relevance(path: Path) -> dict[int, set[int]]:
    relevant: dict[int, set[int]] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            relevant.setdefault(int(parts[0]), set()).add(int(parts[1]))
    return relevant


def ndcg_at(ranked: list[int], relevant: set[int], k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def recall_at(ranked: list[int], relevant: set[int], k: int = 100) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0


def reference_bm25(docs: dict[int, str], queries: dict[int, str]) -> dict[int, list[int]]:
    try:
        import bm25s
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "bm25s==0.3.16"], check=True)
        import bm25s
    ids = list(docs)
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize([docs[i] for i in ids], stopwords="en", show_progress=False), show_progress=False
    )
    results = {}
    for qid, text in queries.items():
        hits, _ = retriever.retrieve(
            bm25s.tokenize([text], stopwords="en", show_progress=False), k=100, show_progress=False
        )
        results[qid] = [ids[int(i)] for i in hits[0]]
    return results


def postgres_ts_rank(
    socket_dir: str, chunk_to_doc: dict[int, int], queries: dict[int, str]
) -> dict[int, list[int]]:
    """Postgres' built-in full-text ranking (`ts_rank`, any query word may match), on the same chunks:
    what Lockgate would rank like without its own BM25 postings."""
    import asyncio
    import re

    import asyncpg

    async def rank() -> dict[int, list[int]]:
        connection = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
        try:
            ranked = {}
            for qid, text in queries.items():
                words = sorted(set(re.findall(r"[a-z0-9]+", text.lower())))
                rows = await connection.fetch(
                    "SELECT id FROM chunks, to_tsquery('english', $1) query "
                    "WHERE to_tsvector('english', content) @@ query "
                    "ORDER BY ts_rank(to_tsvector('english', content), query) DESC, id LIMIT 100",
                    " | ".join(words) or "nothing",
                )
                ranked[qid] = [chunk_to_doc[row["id"]] for row in rows if row["id"] in chunk_to_doc]
            return ranked
        finally:
            await connection.close()

    return asyncio.run(rank())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=str(ROOT.parent / "shared" / "datasets" / "cisi"))
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--postgres", action="store_true", help="store in PostgreSQL (pgserver) instead of SQLite"
    )
    args = parser.parse_args()
    backend = "postgres" if args.postgres else "sqlite"
    out = args.out or str(ROOT / "bench" / "results" / f"rag_cisi_{backend}.md")
    dataset = Path(args.dataset)
    docs = {
        i: (r.get("T", "") + "\n" + r.get("W", "")).strip()
        for i, r in read_records(dataset / "CISI.ALL").items()
    }
    queries = {i: r.get("W", "").strip() for i, r in read_records(dataset / "CISI.QRY").items()}
    relevance = read_relevance(dataset / "CISI.REL")
    judged = {q: t for q, t in queries.items() if relevance.get(q)}

    work = Path(tempfile.mkdtemp(prefix="lockgate-bench-cisi-"))
    config: dict = {"local_models": "on"}
    if args.postgres:
        import pgserver

        server = pgserver.get_server(work / "pg", cleanup_mode="stop")
        socket_dir = server.get_uri().split("host=")[1]
        config["database_url"] = f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}"
    process, url = serve_lockgate(work, config)
    try:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {MASTER}"}, timeout=120)
        collection = client.post("/v1/collections", json={"name": "cisi"}).json()["id"]
        chunk_to_doc: dict[int, int] = {}
        started = time.perf_counter()
        for doc_id, text in docs.items():
            files = {"file": (f"cisi-{doc_id}.txt", io.BytesIO(text.encode()), "text/plain")}
            form = {
                "collection_id": str(collection),
                "disable_chunking": "true",
                "metadata": f'{{"cisi": {doc_id}}}',
            }
            response = client.post("/v1/documents", data=form, files=files)
            if response.status_code == 409:  # CISI has a few duplicate abstracts
                continue
            response.raise_for_status()
            document = response.json()["id"]
            for chunk in client.get(f"/v1/documents/{document}/chunks").json()["data"]:
                chunk_to_doc[chunk["id"]] = doc_id
        ingest_rate = len(docs) / (time.perf_counter() - started)
        scores: dict[str, dict[str, list[float]]] = {}
        latency: dict[str, list[float]] = {}
        for method in ("lexical", "semantic", "hybrid"):
            scores[method] = {"ndcg": [], "recall": []}
            latency[method] = []
            for qid, text in judged.items():
                t0 = time.perf_counter()
                hits = client.post(
                    "/v1/search",
                    json={
                        "query": text[:9000],
                        "method": method,
                        "collection_ids": [collection],
                        "limit": 100,
                    },
                ).json()["data"]
                latency[method].append((time.perf_counter() - t0) * 1000)
                ranked = [chunk_to_doc[h["chunk"]["id"]] for h in hits]
                scores[method]["ndcg"].append(ndcg_at(ranked, relevance[qid]))
                scores[method]["recall"].append(recall_at(ranked, relevance[qid]))
        reference = reference_bm25(docs, judged)
        scores["reference BM25 (bm25s)"] = {
            "ndcg": [ndcg_at(reference[q], relevance[q]) for q in judged],
            "recall": [recall_at(reference[q], relevance[q]) for q in judged],
        }
        if args.postgres:
            ts_ranked = postgres_ts_rank(socket_dir, chunk_to_doc, judged)
            scores["Postgres ts_rank (not used)"] = {
                "ndcg": [ndcg_at(ts_ranked[q], relevance[q]) for q in judged],
                "recall": [recall_at(ts_ranked[q], relevance[q]) for q in judged],
            }
        lines = [
            f"CISI on {backend}: {len(docs)} abstracts, {len(judged)} judged queries; MiniLM embeddings; "
            "one chunk per abstract",
            "",
            "| method | nDCG@10 | recall@100 | search p50 (ms) |",
            "|---|---|---|---|",
        ]
        for name, values in scores.items():
            p50 = f"{statistics.median(latency[name]):.1f}" if name in latency else "—"
            ndcg, recall = statistics.mean(values["ndcg"]), statistics.mean(values["recall"])
            lines.append(f"| {name} | {ndcg:.3f} | {recall:.3f} | {p50} |")
        lines.append(
            f"\nIngest (upload, parse, embed, store; one request per document): {ingest_rate:.1f} docs/s"
        )
        report = "\n".join(lines) + "\n"
        write_report(out, report)
    finally:
        stop(process)


if __name__ == "__main__":
    main()
