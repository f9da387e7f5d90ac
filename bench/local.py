"""Local inference through Lockgate vs the same libraries called directly, interleaved in one run:
tokens/s of SmolLM2 (llama-cpp-python) and embeddings/s of MiniLM (onnxruntime).

    python -m bench.local [--rounds 5] [--out bench/results/local.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import MASTER, ROOT, serve_lockgate, stop, write_report

PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."
MAX_TOKENS = 128
SENTENCES = [f"Sentence number {i} is about topic {i % 17} and a few other words." for i in range(256)]


def direct_llama_tps(llm, eos: int) -> float:
    started = time.perf_counter()
    result = llm.create_completion(
        prompt=PROMPT, max_tokens=MAX_TOKENS, temperature=0, logit_bias={eos: -100.0}
    )
    return result["usage"]["completion_tokens"] / (time.perf_counter() - started)


def lockgate_llama_tps(client: httpx.Client, eos: int) -> float:
    started = time.perf_counter()
    # EOS is banned on both sides so that every run generates exactly MAX_TOKENS tokens.
    body = {
        "model": "local-chat",
        "prompt": PROMPT,
        "max_tokens": MAX_TOKENS,
        "temperature": 0,
        "logit_bias": {str(eos): -100.0},
    }
    result = client.post("/v1/completions", json=body).json()
    return result["usage"]["completion_tokens"] / (time.perf_counter() - started)


def direct_embeddings_per_s(embedder) -> float:
    started = time.perf_counter()
    embedder.embed_sync(SENTENCES)
    return len(SENTENCES) / (time.perf_counter() - started)


def lockgate_embeddings_per_s(client: httpx.Client) -> float:
    started = time.perf_counter()
    for i in range(0, len(SENTENCES), 32):
        client.post(
            "/v1/embeddings", json={"model": "local-embeddings", "input": SENTENCES[i : i + 32]}
        ).raise_for_status()
    return len(SENTENCES) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "local.md"))
    args = parser.parse_args()
    from llama_cpp import Llama

    from lockgate.inference import packages
    from lockgate.inference.embeddings import OnnxEmbedder

    work = Path(tempfile.mkdtemp(prefix="lockgate-bench-local-"))
    process, url = serve_lockgate(work, {"local_models": "on"})
    try:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {MASTER}"}, timeout=300)
        llm = Llama(
            model_path=str(packages.smollm2_gguf()), n_ctx=2048, n_threads=os.cpu_count(), verbose=False
        )
        embedder = OnnxEmbedder("bench", packages.minilm_onnx(), packages.minilm_tokenizer())
        embedder.load()
        eos = llm.token_eos()
        lockgate_llama_tps(client, eos), direct_llama_tps(llm, eos)  # warm-up
        lockgate_embeddings_per_s(client), direct_embeddings_per_s(embedder)
        samples: dict[str, list[float]] = {
            k: [] for k in ("llama_direct", "llama_lockgate", "emb_direct", "emb_lockgate")
        }
        for _ in range(args.rounds):  # interleaved, one process busy at a time
            samples["llama_direct"].append(direct_llama_tps(llm, eos))
            samples["llama_lockgate"].append(lockgate_llama_tps(client, eos))
            samples["emb_direct"].append(direct_embeddings_per_s(embedder))
            samples["emb_lockgate"].append(lockgate_embeddings_per_s(client))
        median = {k: statistics.median(v) for k, v in samples.items()}
        llama_ratio = median["llama_lockgate"] / median["llama_direct"]
        emb_ratio = median["emb_lockgate"] / median["emb_direct"]
        report = "\n".join(
            [
                f"Local inference, {os.cpu_count()} cores, median of {args.rounds} interleaved rounds",
                "",
                "| workload | direct | through Lockgate | ratio | goal |",
                "|---|---|---|---|---|",
                f"| SmolLM2-135M Q4_1, {MAX_TOKENS} tokens (tokens/s) | {median['llama_direct']:.1f} | "
                f"{median['llama_lockgate']:.1f} | {llama_ratio:.0%} | ≥ 95% |",
                f"| all-MiniLM-L6-v2 int8, batches of 32 (embeddings/s) | {median['emb_direct']:.0f} | "
                f"{median['emb_lockgate']:.0f} | {emb_ratio:.0%} | ≥ 90% |",
            ]
        )
        write_report(args.out, report)
    finally:
        stop(process)


if __name__ == "__main__":
    main()
