"""Streaming through Lockgate: time to first token added over the upstream's, and how many concurrent
streams are held without stalling (every stream must finish with [DONE], close to the upstream's pace).

    python -m bench.streaming [--streams 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.common import (
    ROOT,
    bench_model,
    free_port,
    rss_mb,
    serve_lockgate,
    spawn,
    start_fake_upstream,
    stop,
    wait_ready,
    write_report,
)
from bench.gateway import user_with_accounting

CHAT = "/v1/chat/completions"
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


async def ttft(targets: dict[str, tuple[str, str, str]], count: int) -> dict[str, list[float]]:
    """Time to first token through each target, interleaved: sample i of every target runs back to back."""
    samples: dict[str, list[float]] = {name: [] for name in targets}
    sessions = {
        name: aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"})
        for name, (_, _, key) in targets.items()
    }
    try:
        for _ in range(count):
            for name, (url, model, _) in targets.items():
                samples[name].append((await one_stream(sessions[name], url, model))[0])
    finally:
        for session in sessions.values():
            await session.close()
    return samples


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


def _relay(upstream_port: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = spawn([sys.executable, str(ROOT / "bench" / "tcp_relay.py"), str(port), str(upstream_port)])
    wait_ready(f"http://127.0.0.1:{port}/v1/models", process)
    return process, port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "streaming.md"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lockgate-bench-stream-"))
    # "instant": 20 chunks at once (the pure cost of the path); "paced": first chunk after 200 ms, then
    # one every 20 ms (~0.6 s per stream), as a model would answer.
    instant, instant_port = start_fake_upstream()
    paced, paced_port = start_fake_upstream(delay=0.2)
    relays = [_relay(instant_port), _relay(paced_port)]
    models = [
        {**bench_model(f"http://127.0.0.1:{instant_port}"), "name": "instant"},
        {**bench_model(f"http://127.0.0.1:{paced_port}"), "name": "paced"},
    ]
    config = {"local_models": "off", "models": models}
    lockgate, url = serve_lockgate(work, config, LOCKGATE_LOG_LEVEL="warning")
    processes = [instant, paced, *(relay for relay, _ in relays), lockgate]
    try:
        key = user_with_accounting(url)  # rate limits and budget on: every stream is admitted and settled
        rows, local = [], "http://127.0.0.1"
        for label, port, relay_port, model in (
            ("instant", instant_port, relays[0][1], "instant"),
            ("paced (200 ms)", paced_port, relays[1][1], "paced"),
        ):
            samples = asyncio.run(
                ttft(
                    {
                        "direct": (f"{local}:{port}{CHAT}", "bench-model", "none"),
                        "relay": (f"{local}:{relay_port}{CHAT}", "bench-model", "none"),
                        "lockgate": (f"{url}{CHAT}", model, key),
                    },
                    args.samples,
                )
            )
            p50 = {name: statistics.median(values) for name, values in samples.items()}
            rows.append(
                f"| {label} | {p50['direct']:.2f} | {p50['relay'] - p50['direct']:.2f} | "
                f"{p50['lockgate']:.2f} | **{p50['lockgate'] - p50['direct']:.2f}** |"
            )
        lockgate_url = f"{url}/v1/chat/completions"
        completed, elapsed = asyncio.run(concurrent(lockgate_url, "paced", key, args.streams))
        rss = rss_mb(lockgate.pid)
        report = "\n".join(
            [
                f"Time to first token (ms), p50 of {args.samples} interleaved streams per target; "
                "Lockgate called by a user with rate limits and a budget",
                "",
                "| upstream | direct | added by a raw TCP relay | through Lockgate | added by Lockgate |",
                "|---|---|---|---|---|",
                *rows,
                "",
                "| concurrency (paced upstream) | value |",
                "|---|---|",
                f"| concurrent streams finished with [DONE] | {completed} / {args.streams} |",
                f"| wall time for all of them (s) (one stream alone: ~0.6 s) | {elapsed:.2f} |",
                f"| Lockgate RSS after (MB) | {rss:.0f} |",
            ]
        )
        write_report(args.out, report)
    finally:
        stop(*processes)


if __name__ == "__main__":
    main()
