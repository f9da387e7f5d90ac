"""The CLI's job follower against a server that cannot answer for a while."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

from lockgate.cli.job_follow import Follower, Submitted, Tally


@asynccontextmanager
async def jobs_server(port: int, answer: Callable[[], web.Response]) -> AsyncIterator[str]:
    """A server whose `GET /v1/jobs/{id}` gives `answer()`; yields its base URL."""

    async def job(_: web.Request) -> web.Response:
        return answer()

    app = web.Application()
    app.router.add_get("/v1/jobs/{id}", job)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_a_5xx_or_429_while_polling_is_waited_out_not_the_jobs_end(unused_tcp_port: int) -> None:
    """A proxy's 502/503 during a restart or a 429 says nothing about the job: the follower keeps
    polling (the two-minute grace of an unreachable server) instead of counting every file as failed."""
    answers = [
        web.json_response({"detail": "bad gateway"}, status=502),
        web.json_response({"detail": "slow down"}, status=429, headers={"Retry-After": "1"}),
        web.json_response({"status": "running", "done": 1}),
        web.json_response(
            {
                "status": "completed",
                "done": 2,
                "files": [{"name": "a.txt", "status": "created"}, {"name": "b.txt", "status": "unchanged"}],
            }
        ),
    ]
    tally = Tally()
    async with (
        jobs_server(unused_tcp_port, lambda: answers.pop(0)) as url,
        aiohttp.ClientSession() as session,
    ):
        follower = Follower(session, url, tally)
        follower.add(Submitted("job-1", total=2, names=["a.txt", "b.txt"]))
        for _ in range(4):
            await follower.poll()
    assert tally.problems == []
    assert tally.counts == {"created": 1, "unchanged": 1}
    assert not follower.open


async def test_someone_elses_cancelled_job_counts_every_file_it_did_not_sync(unused_tcp_port: int) -> None:
    """`lockgate follow JOB` knows only the job's file count: a job cancelled after one of its six files
    is one file created and five failed in the summary, as the failure line below it says."""

    canceled = {
        "status": "canceled",
        "done": 1,
        "files": [{"name": "a.txt", "status": "created"}],
        "errors": [],
    }
    tally = Tally()
    async with (
        jobs_server(unused_tcp_port, lambda: web.json_response(canceled)) as url,
        aiohttp.ClientSession() as session,
    ):
        follower = Follower(session, url, tally)
        follower.add(Submitted("job-1", total=6))
        await follower.poll()
    assert [name for name, _ in tally.problems] == ["5 file(s) of job job-1"]
    assert tally.summary() == "1 created, 0 replaced, 0 unchanged, 0 removed, 5 failed"
    assert tally.files == 6  # the report's header: 1 + 5, not 1 + one problem line
    assert not follower.open
