"""The job queue in one process, on SQLite and PostgreSQL: workers sharing one queue never run a job
twice, cancel, the per-user limit, and a job whose worker died resumes after its last recorded step."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from sqlalchemy.exc import DBAPIError

from lockgate.jobs import repository
from lockgate.jobs.models import Job, JobKind, JobStatus
from lockgate.jobs.queue import JobQueue
from lockgate.jobs.schemas import ItemsPayload
from lockgate.jobs.service import JobService
from lockgate.jobs.worker import JobLost, JobRun, JobWorker
from lockgate.kit.clock import now_ts
from tests.helpers import MASTER_KEY, Api

WAIT_SECONDS = 120.0


@pytest.fixture
def settings(settings):
    # No worker inside the app: each test starts the workers it needs.
    return settings.model_copy(update={"job_workers": 0})


@dataclass
class Steps:
    """A job kind whose work is `steps` steps (one per payload id), each recorded when it runs."""

    ran: list[tuple[str, int]] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    running: Counter = field(default_factory=Counter)
    most_at_once: int = 0

    async def work(self, run: JobRun) -> None:
        ids = ItemsPayload.model_validate(run.job.payload).ids
        self.running[run.principal.user_id] += 1
        self.most_at_once = max(self.most_at_once, self.running[run.principal.user_id])
        try:
            for step in range(run.done, len(ids)):
                await self.gate.wait()
                self.ran.append((run.id, step))
                await run.advance(step + 1)
        finally:
            self.running[run.principal.user_id] -= 1


def worker(api: Api, steps: Steps, jobs: JobService | None = None, **options) -> JobWorker:
    state = api.state
    options = {"slots": 2, "lease_seconds": 30.0, "max_attempts": 3, "per_user": 10, **options}
    return JobWorker(
        state.db,
        jobs or state.jobs,
        {JobKind.DELETE_DOCUMENTS: steps.work},
        state.authenticator.principal_for_key,
        **options,
    )


async def submit(api: Api, steps: int) -> Job:
    principal = await api.state.authenticator.authenticate(MASTER_KEY)
    payload = ItemsPayload(endpoint="/test", ids=list(range(steps)))
    return await api.state.jobs.submit(principal, JobKind.DELETE_DOCUMENTS, "test", steps, payload)


async def finished(api: Api, job_id: str) -> Job:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        async with api.state.db.transaction() as session:
            job = await session.get(Job, job_id)
        if job is not None and job.status in {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED}:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


async def status_of(api: Api, job_id: str) -> Job:
    async with api.state.db.transaction() as session:
        job = await session.get(Job, job_id)
    assert job is not None
    return job


async def until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not await predicate():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_two_workers_on_one_queue_run_each_job_once(api: Api) -> None:
    steps = Steps()
    steps.gate.set()
    # A second replica: its own connection to the same queue.
    other = JobService(api.state.db, JobQueue(api.state.jobs.queue.place))
    first, second = worker(api, steps), worker(api, steps, jobs=other)
    jobs = [await submit(api, 2) for _ in range(12)]
    for job in jobs:  # a repeated message (a sweep racing a slow worker) must not run a job again
        await api.state.jobs.queue.push(job.id)
    await first.start()
    await second.start()
    try:
        done = [await finished(api, job.id) for job in jobs]
    finally:
        await first.stop()
        await second.stop()
        other.queue.close()
    assert [j.status for j in done] == [JobStatus.COMPLETED] * 12
    assert sorted(steps.ran) == sorted((job.id, step) for job in jobs for step in range(2))
    assert {j.attempts for j in done} == {1}


async def test_a_canceled_pending_job_never_runs(api: Api) -> None:
    steps = Steps()
    steps.gate.set()
    canceled, later = await submit(api, 1), await submit(api, 1)
    principal = await api.state.authenticator.authenticate(MASTER_KEY)
    assert (await api.state.jobs.cancel(principal, canceled.id)).status == JobStatus.CANCELED
    running = worker(api, steps, slots=1)
    await running.start()
    try:
        assert (await finished(api, later.id)).status == JobStatus.COMPLETED
    finally:
        await running.stop()
    assert (await status_of(api, canceled.id)).status == JobStatus.CANCELED
    assert all(job_id != canceled.id for job_id, _ in steps.ran)


async def test_a_canceled_running_job_stops_before_its_next_step(api: Api) -> None:
    steps = Steps()  # gate closed: the job waits inside its first step
    job = await submit(api, 3)
    running = worker(api, steps)
    await running.start()
    try:
        await until(lambda: _has_status(api, job.id, JobStatus.RUNNING), "the job never started")
        principal = await api.state.authenticator.authenticate(MASTER_KEY)
        assert (await api.state.jobs.cancel(principal, job.id)).status == JobStatus.CANCELED
        steps.gate.set()
        follow = await submit(api, 1)
        assert (await finished(api, follow.id)).status == JobStatus.COMPLETED
    finally:
        await running.stop()
    after = await status_of(api, job.id)
    assert after.status == JobStatus.CANCELED and after.done == 0
    assert [s for j, s in steps.ran if j == job.id] in ([], [0])  # the step in flight, at most


async def test_one_user_runs_at_most_jobs_per_user_at_once(api: Api) -> None:
    steps = Steps()
    steps.gate.set()
    running = worker(api, steps, slots=4, per_user=1)
    jobs = [await submit(api, 3) for _ in range(4)]
    await running.start()
    try:
        done = [await finished(api, job.id) for job in jobs]
    finally:
        await running.stop()
    assert [j.status for j in done] == [JobStatus.COMPLETED] * 4
    assert steps.most_at_once == 1


async def test_a_job_whose_worker_died_resumes_after_its_last_step(api: Api) -> None:
    steps = Steps()
    steps.gate.set()
    job = await submit(api, 3)
    await api.state.jobs.queue.pop()  # the dead worker had taken the message...
    long_ago = now_ts() - 3600
    async with api.state.db.transaction() as session:  # ...claimed the job, recorded one step, died
        assert await repository.claim(session, job.id, "dead-worker", long_ago, 10)
        assert await repository.progress(session, job.id, "dead-worker", 1, [], {}, long_ago)
    running = worker(api, steps, lease_seconds=1.0)
    await running.start()  # its first sweep hands the job over
    try:
        after = await finished(api, job.id)
    finally:
        await running.stop()
    assert after.status == JobStatus.COMPLETED and after.done == 3 and after.attempts == 2
    assert steps.ran == [(job.id, 1), (job.id, 2)]


async def test_a_pending_job_whose_message_was_lost_runs_when_a_worker_starts(api: Api) -> None:
    """kill -9 after the queue handed the message out but before any worker claimed the job: the job
    is pending with no message; a starting worker queues it again at once (not after ten leases)."""
    steps = Steps()
    steps.gate.set()
    job = await submit(api, 1)
    await api.state.jobs.queue.pop()  # taken by a worker that died before claiming it
    running = worker(api, steps, lease_seconds=3600.0)
    await running.start()
    try:
        after = await finished(api, job.id)
    finally:
        await running.stop()
    assert after.status == JobStatus.COMPLETED and steps.ran == [(job.id, 0)]


async def test_a_job_whose_worker_keeps_dying_fails(api: Api) -> None:
    job = await submit(api, 1)
    long_ago = now_ts() - 3600
    async with api.state.db.transaction() as session:
        assert await repository.claim(session, job.id, "dead-worker", long_ago, 10)
    running = worker(api, Steps(), lease_seconds=1.0, max_attempts=1)
    await running.start()
    try:
        after = await finished(api, job.id)
    finally:
        await running.stop()
    assert after.status == JobStatus.FAILED and "given up" in after.errors[-1]


async def test_a_worker_that_lost_its_job_changes_nothing(api: Api) -> None:
    job = await submit(api, 2)
    async with api.state.db.transaction() as session:
        assert await repository.claim(session, job.id, "old-worker", now_ts(), 10)
    principal = await api.state.authenticator.authenticate(MASTER_KEY)
    await api.state.jobs.cancel(principal, job.id)
    run = JobRun(await status_of(api, job.id), principal, "old-worker", api.state.db)
    with pytest.raises(JobLost):
        await run.advance(1)
    assert (await status_of(api, job.id)).done == 0


async def _has_status(api: Api, job_id: str, status: JobStatus) -> bool:
    return (await status_of(api, job_id)).status == status


async def test_a_job_whose_key_was_deleted_fails_without_running(api: Api) -> None:
    steps = Steps()
    steps.gate.set()
    member = await api.create_member()
    principal = await api.state.authenticator.authenticate(member.key)
    payload = ItemsPayload(endpoint="/test", ids=[0])
    job = await api.state.jobs.submit(principal, JobKind.DELETE_DOCUMENTS, "test", 1, payload)
    assert (await api.delete(f"/v1/admin/tokens/{principal.key_id}")).status_code == 204
    running = worker(api, steps)
    await running.start()
    try:
        after = await finished(api, job.id)
    finally:
        await running.stop()
    assert after.status == JobStatus.FAILED and "deleted" in after.errors[0]
    assert steps.ran == []


async def test_a_job_whose_database_connection_dropped_runs_again(api: Api) -> None:
    """A pooled connection the database dropped (restart, failover; ADR 0025 pings only idle ones) fails
    the step in flight: the job goes back to the queue and completes, instead of failing for good."""
    steps = Steps()
    steps.gate.set()
    dropped: list[str] = []

    async def work(run: JobRun) -> None:
        if not dropped:
            dropped.append(run.id)
            raise DBAPIError("SELECT 1", {}, ConnectionError("server closed"), connection_invalidated=True)
        await steps.work(run)

    state = api.state
    runner = JobWorker(
        state.db,
        state.jobs,
        {JobKind.DELETE_DOCUMENTS: work},
        state.authenticator.principal_for_key,
        slots=2,
        lease_seconds=30.0,
        max_attempts=3,
        per_user=10,
    )
    job = await submit(api, 2)
    await runner.start()
    try:
        done = await finished(api, job.id)
    finally:
        await runner.stop()
    assert dropped == [job.id]
    assert done.status == JobStatus.COMPLETED, done.errors
    assert steps.ran == [(job.id, 0), (job.id, 1)] and not done.errors
