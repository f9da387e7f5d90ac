"""The fault matrix in one run: for each way an upstream can misbehave, what a client of Lockgate sees
(status or error frame), how long it waits next to the bound that applies (provider timeout, stream
idle timeout or deadline), Lockgate's memory before and after, and whether in-flight counts are back to
zero. Figures, not asserts: tests/gateway/test_fault_matrix.py asserts the behaviour.

    python -m bench.faults [--requests 10] [--out bench/results/faults.md]

One hostile upstream (this file, `--upstream PORT`) serves every mode: the provider's `model_name`
names the mode. Lockgate runs as `lockgate serve` with one model per mode (its single provider) and a
user with limits and a budget, so admission and settlement run as in production."""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from bench.common import MASTER, free_port, rss_mb, serve_lockgate, spawn, stop, wait_ready, write_report
from bench.fake_upstream import lifespan, read_body
from bench.gateway import user_with_accounting

TIMEOUT = 2  # each provider's timeout (s)
DEADLINE = 4.0  # stream_deadline_seconds
LINE_LIMIT = 64 * 1024
BODY_LIMIT = 1024 * 1024
MODES = {  # mode: (streamed?, what the bound is)
    "healthy": (False, "-"),
    "refused connection": (False, "connect"),
    "500": (False, "-"),
    "503": (False, "-"),
    "429 retry-after 7": (False, "-"),
    "timeout": (False, f"timeout {TIMEOUT:g} s"),
    "truncated json": (False, "-"),
    "array": (False, "-"),
    "no choices": (False, "-"),
    "usage not numeric": (False, "-"),
    "oversize body 50 MB": (False, f"body {BODY_LIMIT // 1024} KiB"),
    "healthy stream": (True, "-"),
    "stream: first chunk 42": (True, "-"),
    "stream: line too long": (True, f"line {LINE_LIMIT // 1024} KiB"),
    "stream: cut mid-way": (True, "-"),
    "stream: keepalive only": (True, f"idle {TIMEOUT:g} s"),
    "stream: endless": (True, "chunks vs max_tokens"),
    "stream: past the deadline": (True, f"deadline {DEADLINE:g} s"),
}


def slug(mode: str) -> str:
    """The model (and provider model_name) serving `mode`."""
    return re.sub(r"[^a-z0-9]+", "-", mode).strip("-")


BY_SLUG = {slug(mode): mode for mode in MODES}


def _chunk(text: str) -> bytes:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": None}
    return (
        b"data: "
        + orjson.dumps({"id": "c", "object": "chat.completion.chunk", "choices": [choice]})
        + b"\n\n"
    )


ANSWER = orjson.dumps(
    {
        "id": "c",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
)


async def upstream(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    body = await read_body(receive)
    if scope["path"].endswith("/models"):
        data = [{"id": name, "object": "model", "owned_by": "bench"} for name in BY_SLUG]
        return await _answer(send, 200, orjson.dumps({"object": "list", "data": data}))
    mode = BY_SLUG[orjson.loads(body)["model"]]
    raw = {
        "truncated json": b'{"id": "x", "choices": [',
        "array": b"[]",
        "no choices": b'{"id": "x", "object": "chat.completion"}',
        "usage not numeric": ANSWER.replace(b'"prompt_tokens":5', b'"prompt_tokens":"many"'),
    }
    if mode == "healthy":
        return await _answer(send, 200, ANSWER)
    if mode in ("500", "503"):
        return await _answer(send, int(mode), b'{"error": {"message": "upstream failure"}}')
    if mode.startswith("429"):
        return await _answer(send, 429, b'{"error": {"message": "slow down"}}', [(b"retry-after", b"7")])
    if mode == "timeout":
        await asyncio.sleep(TIMEOUT + 3)
        return await _answer(send, 200, ANSWER)
    if mode in raw:
        return await _answer(send, 200, raw[mode])
    if mode.startswith("oversize"):
        await _start(send, 200, b"application/json")
        await send({"type": "http.response.body", "body": b'{"choices": [], "pad": "', "more_body": True})
        for _ in range(50):
            await send({"type": "http.response.body", "body": b"x" * 1024 * 1024, "more_body": True})
        return await send({"type": "http.response.body", "body": b'"}'})
    await _start(send, 200, b"text/event-stream")
    script: list[bytes | float] = {
        "healthy stream": [_chunk("a "), _chunk("b "), b"data: [DONE]\n\n"],
        "stream: first chunk 42": [b"data: 42\n\n"],
        "stream: line too long": [_chunk("a "), b"data: " + b"y" * (2 * LINE_LIMIT)],
        "stream: cut mid-way": [_chunk("a "), _chunk("b ")],
    }.get(mode, [])
    forever = {
        "stream: keepalive only": [b": keepalive\n\n", 0.2],
        "stream: endless": [_chunk("more ")],
        "stream: past the deadline": [_chunk("slow "), 0.5],
    }.get(mode)
    if forever:
        script = [_chunk("one ")] + forever * 100_000
    try:
        for item in script:
            if isinstance(item, float):
                await asyncio.sleep(item)
            else:
                await send({"type": "http.response.body", "body": item, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    except OSError:  # Lockgate hung up, as it should
        return


async def _start(send, status: int, content_type: bytes, headers: list | None = None) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), *(headers or [])],
        }
    )


async def _answer(send, status: int, body: bytes, headers: list | None = None) -> None:
    await _start(send, status, b"application/json", headers)
    await send({"type": "http.response.body", "body": body})


def one(client: httpx.Client, key: str, mode: str, stream: bool) -> tuple[str, float]:
    """(outcome, seconds): the status, or `200 + error frame` / `200 [DONE]` for streams."""
    body = {
        "model": slug(mode),
        "messages": [{"role": "user", "content": "ping"}],
        "max_tokens": 5,
        "stream": stream,
    }
    started = time.perf_counter()
    with client.stream(
        "POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as r:
        lines = [line for line in r.iter_lines() if line.startswith("data:")]
    seconds = time.perf_counter() - started
    if r.status_code != 200 or not stream:
        return str(r.status_code), seconds
    if lines and lines[-1] == "data: [DONE]":
        return "200 [DONE]", seconds
    return ("200 + error frame" if lines and '"error"' in lines[-1] else "200, no end"), seconds


def inflight_total(client: httpx.Client) -> float:
    text = client.get("/metrics", headers={"Authorization": f"Bearer {MASTER}"}).text
    return sum(float(v) for v in re.findall(r"^lockgate_model_inflight\{[^}]*\} (\S+)$", text, re.MULTILINE))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--out", default="bench/results/faults.md")
    parser.add_argument("--upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        import uvicorn

        uvicorn.run(upstream, host="127.0.0.1", port=args.upstream, log_level="error", lifespan="on")
        return
    port = free_port()
    hostile = spawn([sys.executable, "-m", "bench.faults", "--upstream", str(port)])
    wait_ready(f"http://127.0.0.1:{port}/v1/models", hostile)
    closed = f"http://127.0.0.1:{free_port()}"
    models = [
        {
            "name": slug(mode),
            "type": "text-generation",
            "providers": [
                {
                    "type": "openai",
                    "url": closed if mode == "refused connection" else f"http://127.0.0.1:{port}",
                    "model_name": slug(mode),
                    "timeout": TIMEOUT,
                }
            ],
        }
        for mode in MODES
    ]
    config = {
        "models": models,
        "local_models": "off",
        "provider_failure_threshold": 1_000_000,  # never rests: every request meets the fault
        "upstream_max_body_bytes": BODY_LIMIT,
        "upstream_max_line_bytes": LINE_LIMIT,
        "stream_deadline_seconds": DEADLINE,
        "provider_allowed_networks": ["127.0.0.0/8"],
    }
    with tempfile.TemporaryDirectory() as tmp:
        lockgate, url = serve_lockgate(Path(tmp), config)
        try:
            key = user_with_accounting(url)
            rows = []
            with httpx.Client(base_url=url, timeout=120) as client:
                rss_start = rss_mb(lockgate.pid)
                for mode, (stream, bound) in MODES.items():
                    before = rss_mb(lockgate.pid)
                    results = [one(client, key, mode, stream) for _ in range(args.requests)]
                    outcomes = sorted({o for o, _ in results})
                    seconds = [s for _, s in results]
                    grown, inflight = rss_mb(lockgate.pid) - before, inflight_total(client)
                    rows.append(
                        f"| {mode} | {bound} | {', '.join(outcomes)} | {statistics.median(seconds):.3f} | "
                        f"{max(seconds):.3f} | {grown:+.0f} | {inflight:g} |"
                    )
                rss_end = rss_mb(lockgate.pid)
        finally:
            stop(lockgate, hostile)
    report = "\n".join(
        [
            f"# Fault matrix — {args.requests} requests per mode, one at a time, by a user with limits "
            "and a budget",
            "",
            f"Provider timeout {TIMEOUT:g} s, stream deadline {DEADLINE:g} s, upstream body cap "
            f"{BODY_LIMIT // 1024} KiB, line cap {LINE_LIMIT // 1024} KiB, max_tokens 5.",
            "",
            "| upstream mode | bound | client sees | p50 (s) | max (s) | RSS change (MB) | in flight after |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Lockgate RSS: {rss_start:.0f} MB at the start, {rss_end:.0f} MB after every mode.",
        ]
    )
    write_report(args.out, report)


if __name__ == "__main__":
    main()
