"""Runs queued jobs: inside `lockgate serve` (unless job_workers is 0) and in `lockgate worker` pools.

A worker takes a job id from the queue, claims the job in the jobs table (one worker wins, within the
owner's concurrency limit), runs the work for its kind, and records progress as it goes. It holds the
job by a lease it renews; a job whose worker died (kill -9, power loss) is offered again once its lease
runs out and resumes after the last step it recorded, up to `max_attempts` times. Work steps are written
in one transaction each, with their progress (JobRun.advance(session=...)), so a retry neither repeats
nor skips one."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.errors import AppError
from lockgate.identity.schemas import Principal
from lockgate.jobs import repository
from lockgate.jobs.models import Job, JobStatus
from lockgate.jobs.service import JobService
from lockgate.kit.clock import now_ts
from lockgate.kit.db import Database

log = logging.getLogger("lockgate.jobs")

POLL_SECONDS = 0.5  # how often an idle worker looks at a queue that does not block (SQLite)


class JobLost(Exception):
    """This worker no longer holds the job: it was canceled, or its lease ran out and another took it."""


@dataclass
class JobRun:
    """A claimed job as its work sees it: who it acts for, its payload, where it stands."""

    job: Job
    principal: Principal
    worker: str
    db: Database
    done: int = 0
    errors: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.job.id

    async def advance(self, done: int, session: AsyncSession | None = None) -> None:
        """Record progress (and errors, result). Given the session that wrote the step, in the same
        transaction: the step and its record commit together. Raises JobLost when not held any more
        (inside a step's transaction, that rolls the step back)."""
        self.done = done
        if session is not None:
            await self._record(session)
            return
        async with self.db.transaction() as own:
            await self._record(own)

    async def _record(self, session: AsyncSession) -> None:
        held = await repository.progress(
            session, self.id, self.worker, self.done, self.errors, self.result, now_ts()
        )
        if not held:
            raise JobLost(self.id)


Work = Callable[[JobRun], Awaitable[None]]
PrincipalLoader = Callable[[int | None], Awaitable[Principal]]


class JobWorker:
    """`slots` jobs at a time; start() in a lifespan, stop() at shutdown (jobs in flight go back to the
    queue: their current step is rolled back and redone by whichever worker takes them)."""

    def __init__(
        self,
        db: Database,
        jobs: JobService,
        work: Mapping[str, Work],
        principal_for_key: PrincipalLoader,
        slots: int,
        lease_seconds: float,
        max_attempts: int,
        per_user: int,
    ):
        self._db = db
        self._jobs = jobs
        self._queue = jobs.queue
        self._work = work
        self._principal_for_key = principal_for_key
        self._slots = asyncio.Semaphore(slots)
        self._lease = lease_seconds
        self._max_attempts = max_attempts
        self._per_user = per_user
        self.id = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._running: dict[str, asyncio.Task[None]] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False
        self._next_leftovers = 0

    async def start(self) -> None:
        # What a previous run left behind. Every pending job too, however fresh: a message taken by a
        # worker that died before claiming its job is gone from the queue, and waiting the usual
        # grace would leave that job pending for minutes. A repeated message is harmless (claims are
        # atomic), so queueing a job that still has one costs nothing.
        await self.sweep(every_pending=True)
        self._loops = [asyncio.create_task(self._dispatch()), asyncio.create_task(self._maintain())]

    async def stop(self) -> None:
        self._stopping = True
        for loop in self._loops:
            loop.cancel()
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._loops, *self._running.values(), return_exceptions=True)
        self._loops = []

    async def _dispatch(self) -> None:
        while not self._stopping:
            await self._slots.acquire()
            try:
                job_id = await self._queue.pop()
            except Exception:
                self._slots.release()
                log.exception("job queue unreachable; retrying")
                await asyncio.sleep(POLL_SECONDS * 4)
                continue
            if job_id is None:
                self._slots.release()
                if not self._queue.blocks:
                    self._jobs.submitted.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._jobs.submitted.wait(), POLL_SECONDS)
                continue
            task = asyncio.create_task(self._run(job_id))
            self._running[job_id] = task
            task.add_done_callback(functools.partial(self._finished, job_id))

    def _finished(self, job_id: str, _task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        self._slots.release()

    async def _maintain(self) -> None:
        """Renew the leases of the jobs running here (stop those no longer held), and sweep."""
        while True:
            await asyncio.sleep(max(self._lease / 3, 0.2))
            try:
                async with self._db.transaction() as session:
                    held = await repository.renew(session, self.id, list(self._running), now_ts())
                for job_id, task in list(self._running.items()):
                    if job_id not in held and not task.done():
                        log.info("job %s: canceled or taken over; stopping it here", job_id)
                        task.cancel()
                await self.sweep()
            except Exception:
                log.exception("job maintenance failed; retrying")

    async def sweep(self, every_pending: bool = False) -> None:
        """Queue again the running jobs whose lease ran out and the pending jobs left unqueued (all of
        them with `every_pending`, else those untouched for ten leases); fail a job whose worker died
        `max_attempts` times. At start and every ten leases, release what ended jobs still hold."""
        now = now_ts()
        pending_before = now + 1 if every_pending else now - int(self._lease * 10)
        async with self._db.transaction() as session:
            found = await repository.stale(session, now - int(self._lease), pending_before)
        for job in found:
            if job.worker == self.id and job.id in self._running:
                continue  # alive here (this loop ran late): not for this worker to take over
            give_up = None
            if job.status == JobStatus.RUNNING and job.attempts >= self._max_attempts:
                give_up = f"{job.name}: stopped {job.attempts} times by its worker dying; given up."
            async with self._db.transaction() as session:
                taken = await repository.requeue(session, job, now, give_up)
            if taken and give_up is None:  # retried: it keeps what it holds (its uploads)
                log.info("job %s: queued again (%s, attempt %d done)", job.id, job.status, job.attempts)
                await self._queue.push(job.id)
            elif taken:
                await self._jobs.ended(job.id)
        if every_pending or now >= self._next_leftovers:
            self._next_leftovers = now + int(self._lease * 10)
            await self._jobs.release_leftovers()

    async def _run(self, job_id: str) -> None:
        async with self._db.transaction() as session:
            claimed = await repository.claim(session, job_id, self.id, now_ts(), self._per_user)
            job = await session.get(Job, job_id)
        if job is None:
            return
        if not claimed:
            if job.status == JobStatus.PENDING:  # its owner runs as many jobs as allowed: later
                await asyncio.sleep(POLL_SECONDS * 2)
                await self._queue.push(job_id)
            return  # finished, canceled, or another worker holds it
        errors, result = list(job.errors or []), dict(job.result or {})
        try:
            principal = await self._principal_for_key(job.key_id)
            work = self._work.get(job.kind)
            if work is None:
                raise AppError(f"{job.name}: this server cannot run {job.kind} jobs.")
            await work(JobRun(job, principal, self.id, self._db, job.done, errors, result))
        except JobLost:
            log.info("job %s: canceled or taken over while running", job_id)
            return
        except asyncio.CancelledError:
            if self._stopping:  # back to the queue for the next worker (the step in flight rolled back)
                await self._give_back(job_id)
            raise
        except AppError as exc:
            errors.append(exc.message)
        except Exception as exc:
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                # the database dropped a pooled connection (restart, failover; ADR 0025): the step
                # rolled back and the pool is renewed, so the job runs again instead of failing
                log.warning("job %s: database connection lost; queued again", job_id)
                self._running.pop(job_id, None)
                await self._give_back(job_id)
                return
            log.exception("job %s (%s) failed", job_id, job.kind)
            errors.append(f"{job.name}: internal error.")
        status = JobStatus.FAILED if errors else JobStatus.COMPLETED
        self._running.pop(job_id, None)  # finishing: not a job for the lease renewal to stop
        async with self._db.transaction() as session:
            finished = await repository.finish(session, job_id, self.id, status, errors, result, now_ts())
        if finished:  # else it was canceled or taken over meanwhile: not this worker's to release
            await self._jobs.ended(job_id)

    async def _give_back(self, job_id: str) -> None:
        with contextlib.suppress(Exception):
            async with self._db.transaction() as session:
                released = await repository.release(session, job_id, self.id, now_ts())
            if released:
                await self._queue.push(job_id)


async def each_item(run: JobRun, ids: list[int], step: Callable[[int], Awaitable[None]]) -> None:
    """The per-id loop of the h2oGPTe `*_job` routes: `step` on each id from where the job stands; an
    id it refuses (AppError: not yours, not found) is an error in the job, and the others go on."""
    for position in range(run.done, len(ids)):
        try:
            await step(ids[position])
        except AppError as exc:
            run.errors.append(exc.message)
        await run.advance(position + 1)
