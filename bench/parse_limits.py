"""What bounding each parse costs: the same files read by the three worker pools one could build, side by
side in one run (taking turns, several rounds), no server:

- `unbounded`: concurrent.futures' spawn ProcessPoolExecutor (what ingestion used before: no limit);
- `bounded, long-lived workers`: rag/parse_pool.py as shipped (pebble; RLIMIT_AS set once per worker,
  RLIMIT_CPU set before each read relative to the CPU the worker has used so far);
- `bounded, a fresh worker per read`: the same limits with pebble's max_tasks=1 (an absolute RLIMIT_CPU
  would do then, at the price of a process start per file).

Files: small .docx and .html (typical office uploads) and a 300 KB .txt (pooled by size).

    python -m bench.parse_limits [--rounds 3] [--files 24] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from pebble import ProcessPool

from bench.common import write_report
from lockgate.rag.chunking import ChunkingOptions, read
from lockgate.rag.parse_pool import ParseLimits, ParsePool, _bounded, _start_worker
from lockgate.rag.tokens import TokenCounter

WORKERS = 2
LIMITS = ParseLimits()


def sample_files() -> list[tuple[str, bytes]]:
    from docx import Document

    document = Document()
    for n in range(40):
        document.add_heading(f"Section {n}", level=2)
        document.add_paragraph("Tomatoes want water twice a week and mulch against the heat. " * 8)
    buffer = io.BytesIO()
    document.save(buffer)
    paragraph = "Notes on the harvest and the seeds. " * 10
    html = "".join(f"<h2>Part {n}</h2><p>{paragraph}</p>" for n in range(60))
    text = ("A line of plain text about nothing in particular, long enough. " * 4800).encode()
    return [("notes.docx", buffer.getvalue()), ("page.html", html.encode()), ("long.txt", text)]


def _args(name: str, data: bytes) -> tuple:
    return (read, name, None, data, ChunkingOptions(), TokenCounter(), True)


async def unbounded(files: list[tuple[str, bytes]]) -> float:
    pool = ProcessPoolExecutor(WORKERS, mp_context=get_context("spawn"))
    loop = asyncio.get_running_loop()
    try:
        await asyncio.gather(*(loop.run_in_executor(pool, *_args(*f)) for f in files[:WORKERS]))  # warm
        started = time.perf_counter()
        await asyncio.gather(*(loop.run_in_executor(pool, *_args(*f)) for f in files))
        return time.perf_counter() - started
    finally:
        pool.shutdown()


async def long_lived(files: list[tuple[str, bytes]]) -> float:
    pool = ParsePool(WORKERS, LIMITS)
    try:
        await asyncio.gather(*(pool.run(f[0], *_args(*f)) for f in files[:WORKERS]))  # warm
        started = time.perf_counter()
        await asyncio.gather(*(pool.run(f[0], *_args(*f)) for f in files))
        return time.perf_counter() - started
    finally:
        pool.close()


async def fresh_per_read(files: list[tuple[str, bytes]]) -> float:
    pool = ProcessPool(
        WORKERS,
        max_tasks=1,
        initializer=_start_worker,
        initargs=(LIMITS.memory_mb * 1024 * 1024,),
        context=get_context("spawn"),
    )

    def run(name: str, data: bytes):
        return asyncio.wrap_future(pool.schedule(_bounded, (LIMITS.cpu_seconds, *_args(name, data))))

    try:
        await asyncio.gather(*(run(*f) for f in files[:WORKERS]))
        started = time.perf_counter()
        await asyncio.gather(*(run(*f) for f in files))
        return time.perf_counter() - started
    finally:
        pool.stop()
        pool.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--files", type=int, default=24)
    parser.add_argument("--out", default="bench/results/parse_limits.md")
    args = parser.parse_args()
    samples = sample_files()
    files = [samples[i % len(samples)] for i in range(args.files)]
    pools: dict[str, Callable] = {
        "unbounded (ProcessPoolExecutor, before)": unbounded,
        "bounded, long-lived workers (shipped)": long_lived,
        "bounded, a fresh worker per read (max_tasks=1)": fresh_per_read,
    }
    seconds: dict[str, list[float]] = {name: [] for name in pools}
    for _ in range(args.rounds):
        for name, run in pools.items():
            seconds[name].append(asyncio.run(run(files)))
    base = min(seconds["unbounded (ProcessPoolExecutor, before)"])
    lines = [
        "# Parse pool: the cost of bounding each read",
        "",
        f"{args.files} files (.docx, .html, 300 KB .txt in turn), {WORKERS} workers, best of {args.rounds} "
        f"rounds; limits {LIMITS.cpu_seconds} s CPU, {LIMITS.memory_mb} MiB.",
        "",
        "| pool | best (s) | files/s | vs unbounded |",
        "|---|---|---|---|",
    ]
    for name, runs in seconds.items():
        best = min(runs)
        lines.append(f"| {name} | {best:.2f} | {args.files / best:.1f} | {best / base:.2f}x |")
    write_report(args.out, "\n".join(lines))


if __name__ == "__main__":
    main()
