"""Retrieval quality on CISI (1,460 abstracts, 112 queries, human relevance judgments): nDCG@10 and
recall@100 of Lockgate's lexical, semantic and hybrid search (RRF, and convex fusion over a sweep of
weights, and convex + rerank), measured through `POST /v1/collections/{id}/evaluate` with CISI's
judgments as TREC qrels, next to a reference BM25 (`bm25s`) computed in the same run; plus ingest
documents/s and search latency at this size.

    python -m bench.rag_cisi [--postgres] [--dataset ../shared/datasets/cisi] [--out FILE] [--lexical-only]
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
    except ImportError:  # a bench-only library: kept out of the shared environment
        target = ROOT / "bench" / ".bm25s"
        if not target.exists():
            pip = [sys.executable, "-m", "pip", "install", "-q", "--target", str(target)]
            subprocess.run([*pip, "bm25s==0.3.16", "scipy"], check=True)
        sys.path.insert(0, str(target))
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


def postgres_ts_rank(socket_dir: str, queries: dict[int, str]) -> dict[int, list[int]]:
    """Postgres' built-in full-text ranking (`ts_rank`, any query word may match), on the same chunks:
    what Lockgate would rank like without its own BM25 postings. CISI ids are the documents' names
    (read in the same query: the chunk ids of the API are positions within a document)."""
    import asyncio

    import asyncpg

    async def rank() -> dict[int, list[int]]:
        connection = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
        try:
            ranked = {}
            for qid, text in queries.items():
                words = sorted(set(re.findall(r"[a-z0-9]+", text.lower())))
                rows = await connection.fetch(
                    "SELECT d.name FROM chunks c JOIN documents d ON d.id = c.document_id, "
                    "to_tsquery('english', $1) query WHERE to_tsvector('english', c.content) @@ query "
                    "ORDER BY ts_rank(to_tsvector('english', c.content), query) DESC, c.id LIMIT 100",
                    " | ".join(words) or "nothing",
                )
                ranked[qid] = [int(row["name"]) for row in rows]
            return ranked
        finally:
            await connection.close()

    return asyncio.run(rank())


WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def row(name: str, ranked: dict[int, list[int]], judged: dict, relevance: dict, p50: str = "—") -> str:
    """One table row, also printed at once (a long run shows its progress)."""
    ndcg = statistics.mean(ndcg_at(ranked[q], relevance[q]) for q in judged)
    deep = all(len(ranked[q]) > 10 for q in judged)  # recall@100 needs the top 100
    recall = f"{statistics.mean(recall_at(ranked[q], relevance[q]) for q in judged):.3f}" if deep else "—"
    line = f"| {name} | {ndcg:.3f} | {recall} | {p50} |"
    print(line, flush=True)
    return line


def evaluate(client: httpx.Client, collection: int, body: dict) -> dict[str, dict[int, list[int]]]:
    """Method → query → CISI document ids, best first (top 100), through the evaluation route."""
    request = {"k": 100, "match": "name", **body}
    response = client.post(f"/v1/collections/{collection}/evaluate", json=request, timeout=1800)
    response.raise_for_status()
    ranked: dict[str, dict[int, list[int]]] = {}
    for query in response.json()["per_query"]:
        for method, documents in query["retrieved"].items():
            ranked.setdefault(method, {})[int(query["id"])] = [int(d) for d in documents]
    return ranked


def search_p50(client: httpx.Client, collection: int, judged: dict, body: dict) -> str:
    took = []
    for text in judged.values():
        started = time.perf_counter()
        search = {"query": text[:9000], "collection_ids": [collection], "limit": 100, **body}
        client.post("/v1/search", json=search).raise_for_status()
        took.append((time.perf_counter() - started) * 1000)
    return f"{statistics.median(took):.1f}"


def evaluate_all(
    client: httpx.Client, collection: int, judged: dict, relevance: dict, backend: str, lexical_only: bool
) -> list[str]:
    queries = [{"id": str(q), "query": t[:9000]} for q, t in judged.items()]
    qrels = "\n".join(f"{q} 0 {d} 1" for q in judged for d in sorted(relevance[q]))
    base = {"queries": queries, "qrels": qrels}
    lines = [
        f"CISI on {backend}: {len(judged)} judged queries; MiniLM embeddings; one chunk per abstract",
        "",
        "| method | nDCG@10 | recall@100 | search p50 (ms) |",
        "|---|---|---|---|",
    ]
    if lexical_only:  # a ranking check: no embedding of the queries, no fusion
        ranked = evaluate(client, collection, {**base, "methods": ["lexical"]})
        p50 = search_p50(client, collection, judged, {"method": "lexical"})
        return [*lines, row("lexical", ranked["lexical"], judged, relevance, p50)]
    rrf = evaluate(client, collection, {**base, "fusion": "rrf", "rff_k": 60})
    for method in ("lexical", "semantic"):
        lines.append(
            row(
                method,
                rrf[method],
                judged,
                relevance,
                search_p50(client, collection, judged, {"method": method}),
            )
        )
    p50 = search_p50(client, collection, judged, {"method": "hybrid", "fusion": "rrf", "rff_k": 60})
    lines.append(row("hybrid, RRF (k = 60)", rrf["hybrid"], judged, relevance, p50))
    for weight in WEIGHTS:
        convex = evaluate(
            client, collection, {**base, "methods": ["hybrid"], "fusion": "convex", "semantic_weight": weight}
        )
        lines.append(row(f"hybrid, convex (semantic weight {weight})", convex["hybrid"], judged, relevance))
    default = evaluate(client, collection, {**base, "methods": ["hybrid"]})
    p50 = search_p50(client, collection, judged, {"method": "hybrid"})
    lines.append(row("**hybrid, default fusion**", default["hybrid"], judged, relevance, p50))
    # k = 10: the first 50 fused candidates are reranked, as for a search of 10 hits (recall@100 n/a)
    tuned = {"methods": ["hybrid"], "rerank_model": "local-rerank", "k": 10}
    reranked = evaluate(client, collection, {**base, **tuned})
    p50 = search_p50(client, collection, judged, {"method": "hybrid", "rerank_model": "local-rerank"})
    lines.append(
        row(
            "hybrid default + rerank (local-rerank: MiniLM similarity)",
            reranked["hybrid"],
            judged,
            relevance,
            p50,
        )
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=str(ROOT.parent / "shared" / "datasets" / "cisi"))
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--postgres", action="store_true", help="store in PostgreSQL (pgserver) instead of SQLite"
    )
    parser.add_argument("--lexical-only", action="store_true", help="only the lexical row (a ranking check)")
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
        started = time.perf_counter()
        for doc_id, text in docs.items():
            files = {"file": (f"cisi-{doc_id}.txt", io.BytesIO(text.encode()), "text/plain")}
            form = {"collection_id": str(collection), "disable_chunking": "true", "name": str(doc_id)}
            response = client.post("/v1/documents", data=form, files=files)
            if response.status_code == 409:  # CISI has a few duplicate abstracts
                continue
            response.raise_for_status()
        ingest_rate = len(docs) / (time.perf_counter() - started)
        report = evaluate_all(client, collection, judged, relevance, backend, args.lexical_only)
        reference = reference_bm25(docs, judged)
        report.append(row("reference BM25 (bm25s)", reference, judged, relevance))
        if args.postgres and not args.lexical_only:
            ts_ranked = postgres_ts_rank(socket_dir, judged)
            report.append(row("Postgres ts_rank (not used)", ts_ranked, judged, relevance))
        report.append(
            f"\nIngest (upload, parse, embed, store; one request per document): {ingest_rate:.1f} docs/s"
        )
        write_report(out, "\n".join(report) + "\n")
    finally:
        stop(process)


if __name__ == "__main__":
    main()
