"""Reading a file in the parse pool is bounded: a read past its CPU time or memory is a 422 naming the
file and the limit, and the pool reads the next file as if nothing happened (its worker replaced)."""

from __future__ import annotations

import asyncio
import json

import pytest

from lockgate.rag.chunking import ChunkingOptions, read
from lockgate.rag.parse_pool import ParseLimitExceeded, ParseLimits, ParsePool
from lockgate.rag.tokens import TokenCounter

# A client's separator that backtracks exponentially on a run of 'a's not followed by one: re.search
# never ends (2^40 steps), without using memory.
BACKTRACKING = ChunkingOptions(chunk_size=10, separators=["(a+)+$"], is_separator_regex=True)
ENDLESS_TEXT = b"a" * 40 + b"b"


def _normal(pool: ParsePool):
    return pool.run(
        "notes.txt", read, "notes.txt", None, b"Some words. " * 50, ChunkingOptions(), TokenCounter(), True
    )


@pytest.fixture
def pool():
    pool = ParsePool(1, ParseLimits(cpu_seconds=1, memory_mb=512))
    yield pool
    pool.close()


async def test_a_read_past_its_cpu_time_is_422_and_the_pool_reads_on(pool: ParsePool) -> None:
    _, pieces = await _normal(pool)  # the worker is up and has used some CPU already
    assert pieces
    with pytest.raises(ParseLimitExceeded) as refused:
        await pool.run("evil.txt", read, "evil.txt", None, ENDLESS_TEXT, BACKTRACKING, TokenCounter(), True)
    assert refused.value.status_code == 422
    assert refused.value.param == "file"
    assert (
        "'evil.txt'" in refused.value.message
        and "1 s of CPU time (parse_cpu_seconds)" in refused.value.message
    )
    _, again = await _normal(pool)  # a fresh worker, same answer
    assert again == pieces


async def test_a_read_past_its_memory_is_422_and_the_pool_reads_on(request) -> None:
    pool = ParsePool(1, ParseLimits(cpu_seconds=600, memory_mb=512))
    request.addfinalizer(pool.close)
    # 24 MiB of JSON that Python holds as millions of objects (over 1 GB), then writes out indented
    data = json.dumps([{"n": n, "s": "x"} for n in range(1_000_000)]).encode()
    with pytest.raises(ParseLimitExceeded) as refused:
        await pool.run("big.json", read, "big.json", None, data, ChunkingOptions(), TokenCounter(), True)
    assert refused.value.status_code == 422
    assert "'big.json'" in refused.value.message and "512 MiB" in refused.value.message
    _, pieces = await _normal(pool)
    assert pieces


async def test_each_read_gets_its_own_cpu_time() -> None:
    """The limit is per read, not per worker: reads that each stay under it all succeed, however many
    (the worker's CPU time adds up past the limit)."""
    pool = ParsePool(1, ParseLimits(cpu_seconds=1, memory_mb=512))
    try:
        text = b"Some words in a sentence. " * 4000
        for _ in range(30):
            _, pieces = await pool.run(
                "t.txt", read, "t.txt", None, text, ChunkingOptions(chunk_size=50), TokenCounter(), True
            )
            assert pieces
    finally:
        pool.close()


def _parse_workers() -> list[int]:
    import psutil

    return [
        child.pid
        for child in psutil.Process().children(recursive=True)
        if child.is_running()
        and child.status() != psutil.STATUS_ZOMBIE
        and "resource_tracker" not in " ".join(child.cmdline())
    ]


async def test_a_replaced_or_closed_pool_ends_its_workers() -> None:
    """pebble's stop() only marks a pool: its workers (up to parse_memory_mb each, maybe running a
    hostile read) lived on after every replacement and after close()."""
    import time

    before = set(_parse_workers())
    pool = ParsePool(2, ParseLimits(cpu_seconds=5, memory_mb=512))
    try:
        await _normal(pool)
        first = set(_parse_workers()) - before
        assert first
        pool._retire(pool._running())  # what a read that found the pool broken does
        deadline = time.monotonic() + 60
        while set(_parse_workers()) & first:
            assert time.monotonic() < deadline, "the replaced pool's workers are still running"
            await asyncio.sleep(0.2)
        await _normal(pool)  # a fresh pool reads on
    finally:
        pool.close()
    assert not (set(_parse_workers()) - before)
