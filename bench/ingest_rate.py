"""Ingest rate on CISI (1,460 abstracts) through the API, before and after batching, in one run on one
server with the real local models, the paths taking turns on slices of the corpus: "one request per
document" (POST /v1/documents, what `lockgate ingest` did) next to `lockgate ingest` as it is now (a
sync: batches of files queued as jobs through POST /v1/collections/{id}/sync?async=true and run by the
server's job workers, embedding calls across documents, batched writes) and run again (all
unchanged); the embedder alone (POST /v1/embeddings on the same texts, 64 per call) is the bound.
nDCG@10 of each collection shows both paths index the same thing.

    python -m bench.ingest_rate [--postgres] [--dataset ../shared/datasets/cisi] [--slice N] [--out FILE]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import BIN, MASTER, ROOT, serve_lockgate, stop, write_report
from bench.rag_cisi import read_records, read_relevance


def one_request_per_document(client: httpx.Client, collection: int, docs: dict[int, str]) -> float:
    """Seconds to ingest `docs` one POST /v1/documents each."""
    started = time.perf_counter()
    for doc_id, text in docs.items():
        files = {"file": (f"{doc_id}.txt", io.BytesIO(text.encode()), "text/plain")}
        form = {"collection_id": str(collection), "name": f"{doc_id}.txt"}
        client.post("/v1/documents", data=form, files=files).raise_for_status()
    return time.perf_counter() - started


def cli_sync(url: str, collection: int, folder: Path) -> tuple[float, str]:
    """Seconds `lockgate ingest FOLDER` takes (process start included), and its summary line."""
    command = [str(BIN / "lockgate"), "ingest", str(folder), "--collection", str(collection), "--url", url]
    started = time.perf_counter()
    env = {**os.environ, "LOCKGATE_API_KEY": MASTER}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    # the summary line ("N file(s): ..."), after the "queued job ..." lines
    return took, next(line for line in done.stderr.splitlines() if " file(s): " in line)


def embedder_alone(client: httpx.Client, docs: dict[int, str]) -> float:
    """Seconds /v1/embeddings takes for the same texts, 64 per call."""
    texts = list(docs.values())
    started = time.perf_counter()
    for start in range(0, len(texts), 64):
        body = {"model": "all-minilm-l6-v2", "input": texts[start : start + 64]}
        client.post("/v1/embeddings", json=body).raise_for_status()
    return time.perf_counter() - started


def quality(client: httpx.Client, collection: int, judged: dict, relevance: dict) -> dict[str, float]:
    """nDCG@10 per method, computed by the evaluation route on CISI's judgments (documents by name)."""
    queries = [{"id": str(q), "query": t[:9000]} for q, t in judged.items()]
    qrels = "\n".join(f"{q} 0 {d}.txt 1" for q in judged for d in sorted(relevance[q]))
    body = {"queries": queries, "qrels": qrels, "k": 10, "match": "name"}
    response = client.post(f"/v1/collections/{collection}/evaluate", json=body, timeout=1800)
    response.raise_for_status()
    return {m["method"]: m["ndcg"] for m in response.json()["methods"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=str(ROOT.parent / "shared" / "datasets" / "cisi"))
    parser.add_argument("--out", default=None)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL (pgserver) instead of SQLite")
    parser.add_argument("--slice", type=int, default=365, help="documents per turn of each path")
    args = parser.parse_args()
    backend = "postgres" if args.postgres else "sqlite"
    out = args.out or str(ROOT / "bench" / "results" / f"ingest_rate_{backend}.md")
    dataset = Path(args.dataset)
    docs = {
        i: (r.get("T", "") + "\n" + r.get("W", "")).strip()
        for i, r in read_records(dataset / "CISI.ALL").items()
    }
    queries = {i: r.get("W", "").strip() for i, r in read_records(dataset / "CISI.QRY").items()}
    relevance = read_relevance(dataset / "CISI.REL")
    judged = {q: t for q, t in queries.items() if relevance.get(q)}

    work = Path(tempfile.mkdtemp(prefix="lockgate-bench-ingest-"))
    # The three paths take turns on slices of the corpus, so that load from other work on the machine
    # falls on all of them alike.
    ids = list(docs)
    slices = [ids[start : start + args.slice] for start in range(0, len(ids), args.slice)]
    for number, part in enumerate(slices):
        folder = work / f"slice{number}"
        folder.mkdir()
        for doc_id in part:
            (folder / f"{doc_id}.txt").write_text(docs[doc_id])
    config: dict = {"local_models": "on"}
    if args.postgres:
        import pgserver

        server = pgserver.get_server(work / "pg", cleanup_mode="stop")
        socket_dir = server.get_uri().split("host=")[1]
        config["database_url"] = f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}"
    process, url = serve_lockgate(work, config)
    try:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {MASTER}"}, timeout=600)
        before = client.post("/v1/collections", json={"name": "cisi-per-document"}).json()["id"]
        after = client.post("/v1/collections", json={"name": "cisi-sync"}).json()["id"]
        took = {"before": 0.0, "after": 0.0, "again": 0.0, "embedder": 0.0}
        summaries = []
        for number, part in enumerate(slices):
            folder = work / f"slice{number}"
            took["embedder"] += embedder_alone(client, {i: docs[i] for i in part})
            took["before"] += one_request_per_document(client, before, {i: docs[i] for i in part})
            seconds, summary = cli_sync(url, after, folder)
            took["after"] += seconds
            seconds, again = cli_sync(url, after, folder)
            took["again"] += seconds
            summaries.append((summary, again))
            done = sum(len(p) for p in slices[: number + 1])
            rates = ", ".join(f"{k} {done / v:.1f}/s" for k, v in took.items())
            print(f"slice {number + 1}/{len(slices)}: {summary} / {again} ({rates} so far)", flush=True)
        rate_before, rate_after, rate_again, embed_rate = (
            len(docs) / took[k] for k in ("before", "after", "again", "embedder")
        )
        summary, summary_again = summaries[-1]
        ndcg_before = quality(client, before, judged, relevance)
        ndcg_after = quality(client, after, judged, relevance)
        rows = [
            ("before: one POST /v1/documents per document", rate_before),
            ("after: `lockgate ingest` (batched sync)", rate_after),
            ("`lockgate ingest` again, all unchanged", rate_again),
            ("bound: the embedder alone (/v1/embeddings, 64 per call)", embed_rate),
        ]
        lines = [
            f"CISI ingest on {backend}: {len(docs)} abstracts, default chunks (MiniLM int8 ONNX, 2 cores)",
            "",
            "| path | documents/s | ratio to before |",
            "|---|---|---|",
            *(f"| {name} | {rate:.1f} | {rate / rate_before:.1f} |" for name, rate in rows),
            "",
            f"CLI on the last slice, first run: {summary}",
            f"CLI on the last slice, second run: {summary_again}",
            "",
            "| nDCG@10 | before | after |",
            "|---|---|---|",
            *(
                f"| {m} | {ndcg_before[m]:.3f} | {ndcg_after[m]:.3f} |"
                for m in ("lexical", "semantic", "hybrid")
            ),
        ]
        print("\n".join(lines), flush=True)
        write_report(out, "\n".join(lines) + "\n")
    finally:
        stop(process)


if __name__ == "__main__":
    sys.exit(main())
