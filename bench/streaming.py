"""Streaming through Lockgate: time to first token added over the upstream's, and how many concurrent
streams are held without stalling (every stream must finish with [DONE], close to the upstream's pace).

    python -m bench.streaming [--streams 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.common import (
    MASTER,
    ROOT,
    bench_model,
    free_port,
    rss_mb,
    serve_lockgate,
    spawn,
    stop,
    wait_ready,
    write_report,
)

BODY = {"model": "bench", "messages": [{"role": "user", "content": "ping"}], "stream": True}


async def one_stream(session: aiohttp.ClientSession, url: str, model: str) -> tuple[float, bool]:
    """(time to first content chunk in ms, finished with [DONE])."""
    started = time.perf_counter()
    first = None
    done = False
    async with session.post(url, json={**BODY, "model": model}) as response:
        async for line in response.content:
            if first is None and b'"content"' in line:
                first = (time.perf_counter() - started) * 1000
            if line.strip() == b"data: [DONE]":
                done = True
    return first or float("nan"), done


async def ttft(url: str, model: str, key: str, count: int) -> list[float]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as session:
        return [(await one_stream(session, url, model))[0] for _ in range(count)]


async def concurrent(url: str, model: str, key: str, streams: int) -> tuple[int, float]:
    connector = aiohttp.TCPConnector(limit=streams + 10)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {key}"}, connector=connector, timeout=timeout
    ) as session:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(one_stream(session, url, model) for _ in range(streams)), return_exceptions=True
        )
        elapsed = time.perf_counter() - started
    return sum(1 for r in results if isinstance(r, tuple) and r[1]), elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "streaming.md"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lockgate-bench-stream-"))
    up_port = free_port()
    # 20 chunks, 20 ms apart (delay 0.2 s → 0.02 s between chunks): each stream lasts ~0.6 s upstream.
    upstream = spawn([sys.executable, str(ROOT / "bench" / "fake_upstream.py"), str(up_port), "0.2", "20"])
    wait_ready(f"http://127.0.0.1:{up_port}/v1/models", upstream)
    lockgate, url = serve_lockgate(
        work,
        {"local_models": "off", "models": [bench_model(f"http://127.0.0.1:{up_port}")]},
        LOCKGATE_LOG_LEVEL="warning",
    )
    try:
        direct_url = f"http://127.0.0.1:{up_port}/v1/chat/completions"
        lockgate_url = f"{url}/v1/chat/completions"
        direct = asyncio.run(ttft(direct_url, "bench-model", "none", 30))
        through = asyncio.run(ttft(lockgate_url, "bench", MASTER, 30))
        completed, elapsed = asyncio.run(concurrent(lockgate_url, "bench", MASTER, args.streams))
        rss = rss_mb(lockgate.pid)
        report = "\n".join(
            [
                "Streaming (fake upstream: 20 chunks, first after 200 ms, then every 20 ms)",
                "",
                "| measure | value |",
                "|---|---|",
                f"| TTFT direct, p50 (ms) | {statistics.median(direct):.1f} |",
                f"| TTFT through Lockgate, p50 (ms) | {statistics.median(through):.1f} |",
                f"| TTFT added, p50 (ms) | {statistics.median(through) - statistics.median(direct):.1f} |",
                f"| concurrent streams finished with [DONE] | {completed} / {args.streams} |",
                f"| wall time for all of them (s) (one stream alone: ~0.6 s) | {elapsed:.2f} |",
                f"| Lockgate RSS after (MB) | {rss:.0f} |",
            ]
        )
        write_report(args.out, report)
    finally:
        stop(lockgate, upstream)


if __name__ == "__main__":
    main()
