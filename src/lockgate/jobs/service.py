"""Submit, read, cancel and wait for jobs. A job is a row in the jobs table (the truth about it) and a
message on the queue (jobs/queue.py) that wakes a worker (jobs/worker.py); `submit` answers at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.errors import AppError, Conflict, NotFound
from lockgate.identity.schemas import Principal
from lockgate.jobs import repository
from lockgate.jobs.models import FINAL_STATUSES, Job, JobKind, JobStatus
from lockgate.jobs.queue import JobQueue
from lockgate.jobs.schemas import ItemsPayload
from lockgate.kit.clock import now_ts
from lockgate.kit.db import Database

log = logging.getLogger("lockgate.jobs")

# What a refused request is told to wait: how long a job runs is not known, a few documents' time is.
BUSY_RETRY_SECONDS = 5


class TooManyJobs(AppError):
    status_code = 429
    code = "rate_limit_exceeded"


class JobHoldings(Protocol):
    """Rows a domain keeps for its jobs outside the jobs table (rag's uploads), registered with
    JobService.hold_for_jobs at the composition root: jobs/ sits below the domains and knows none."""

    async def release(self, job_id: str) -> None:
        """Drop what this job holds: it ended (completed, failed, canceled) and will never run again."""

    async def release_leftovers(self) -> None:
        """Drop what no pending or running job holds: the leftovers of a process that died between a
        job's end and its release."""


# Writes the rows a job holds in its submit transaction (a job's uploads), given `(session, job_id)`;
# answers the job's payload completed with them (their ids), or None to keep it as given.
Attach = Callable[[AsyncSession, str], Awaitable[BaseModel | None]]


class JobService:
    """`per_user`: jobs of one user running at once (jobs_per_user), requests holding one included;
    `lease_seconds`: how often a held job's heartbeat must be renewed (job_lease_seconds)."""

    def __init__(self, db: Database, queue: JobQueue, per_user: int = 2, lease_seconds: float = 30.0):
        self._db = db
        self.queue = queue
        self.per_user = per_user
        self._lease = lease_seconds
        # Set on every submit, so a worker in this process starts at once instead of at its next poll.
        self.submitted = asyncio.Event()
        self._holdings: list[JobHoldings] = []

    def hold_for_jobs(self, holdings: JobHoldings) -> None:
        """Have `holdings` released whenever a job ends, however it ends (this is the one place)."""
        self._holdings.append(holdings)

    async def ended(self, job_id: str) -> None:
        """Release what the job held; called by whoever moved it to a final status, after that commit
        (not in it: a running step holding the same rows would deadlock with it on PostgreSQL). A
        release lost to a crash is done by the next release_leftovers."""
        for holdings in self._holdings:
            try:
                await holdings.release(job_id)
            except Exception:
                log.exception("job %s: what it held not released; the next sweep will", job_id)

    async def release_leftovers(self) -> None:
        """What ended jobs still hold (jobs/worker.py sweeps it at start and every few leases)."""
        for holdings in self._holdings:
            try:
                await holdings.release_leftovers()
            except Exception:
                log.exception("jobs' leftovers not released; retrying at the next sweep")

    async def submit(
        self,
        principal: Principal,
        kind: JobKind,
        name: str,
        total: int,
        payload: BaseModel,
        collection_id: int | None = None,
        job_id: str | None = None,
        attach: Attach | None = None,
    ) -> Job:
        """A pending job, queued; its id is a UUID string (`job_id` when the client chose it, 409 if
        taken). The work runs as the submitting key: revoking the key stops jobs not yet run. `attach`
        writes the rows the job holds (its uploads) in the same transaction: the job and its rows exist
        together or not at all, and they are released when it ends (hold_for_jobs)."""
        async with self._db.transaction() as session:
            if job_id is not None and await session.get(Job, job_id) is not None:
                raise Conflict(f"Job {job_id} already exists.")
            job = Job(
                id=job_id or str(uuid.uuid4()),
                owner_id=principal.user_id,
                key_id=principal.key_id,
                kind=kind,
                name=name[:255],
                collection_id=collection_id,
                status=JobStatus.PENDING,
                total=total,
                errors=[],
                result={},
                payload=payload.model_dump(mode="json"),
            )
            session.add(job)
            if attach is not None:
                completed = await attach(session, job.id)
                if completed is not None:
                    job.payload = completed.model_dump(mode="json")
        # After the commit: a worker that pops the id finds the row. Should the push fail, the row
        # stays pending and the sweep (jobs/worker.py) queues it again.
        try:
            await self.queue.push(job.id)
        except Exception:
            log.exception("job %s: queueing failed; the sweep will queue it again", job.id)
        self.submitted.set()
        return job

    async def submit_each(
        self,
        principal: Principal,
        kind: JobKind,
        title: str,
        ids: list[int],
        endpoint: str,
        collection_id: int | None = None,
    ) -> Job:
        """A job doing the same thing to each id in turn (job_work.py), titled "{title}" with the count
        in place of {n}: h2oGPTe's deletions and imports."""
        payload = ItemsPayload(endpoint=endpoint, ids=ids, collection_id=collection_id)
        name = title.format(n=len(ids))
        return await self.submit(principal, kind, name, len(ids), payload, collection_id)

    @contextlib.asynccontextmanager
    async def running_here(self, principal: Principal, name: str) -> AsyncIterator[None]:
        """Work done inside this request (a synchronous ingestion) counted as one of the caller's
        running jobs while it runs: 429 with Retry-After, naming jobs_per_user, when they already run
        as many as allowed. Its row goes when the work ends; if the process dies first, the sweep finds
        its lease run out and a worker clears it (job_work.py)."""
        job_id = str(uuid.uuid4())
        holder = f"request:{uuid.uuid4().hex[:12]}"
        async with self._db.transaction() as session:
            held = await repository.hold(
                session, job_id, principal.user_id, principal.key_id, holder, name, now_ts(), self.per_user
            )
        if not held:
            raise TooManyJobs(
                f"Too many jobs: jobs_per_user = {self.per_user} of yours already run (ingestions "
                "included); retry when one has finished.",
                headers={"Retry-After": str(BUSY_RETRY_SECONDS)},
            )
        renewal = asyncio.create_task(self._keep(job_id, holder))
        try:
            yield
        finally:
            renewal.cancel()
            try:
                async with self._db.transaction() as session:
                    await repository.forget(session, job_id)
            except Exception:  # the sweep clears it once its lease runs out
                log.exception("job %s (a request's): not cleared", job_id)

    async def _keep(self, job_id: str, holder: str) -> None:
        while True:
            await asyncio.sleep(max(self._lease / 3, 0.2))
            try:
                async with self._db.transaction() as session:
                    await repository.renew(session, holder, [job_id], now_ts())
            except Exception:
                log.exception("job %s (a request's): heartbeat not renewed; retrying", job_id)

    async def get(self, principal: Principal, job_id: str) -> Job:
        """The caller's job; 404 for anyone else's (and, for a collection key, another collection's)."""
        async with self._db.transaction() as session:
            job = await session.get(Job, job_id)
            if job is None or job.owner_id != principal.user_id:
                raise NotFound(f"Job {job_id} not found.")
            if principal.collection_id is not None and job.collection_id != principal.collection_id:
                raise NotFound(f"Job {job_id} not found.")  # a collection key sees its collection's jobs
            return job

    async def list(self, principal: Principal, limit: int = 1000) -> list[Job]:
        """The caller's jobs, newest first."""
        async with self._db.transaction() as session:
            stmt = (
                select(Job).where(Job.owner_id == principal.user_id).order_by(Job.created.desc()).limit(limit)
            )
            return list((await session.scalars(stmt)).all())

    async def pending_count(self, principal: Principal) -> int:
        return sum(1 for j in await self.list(principal) if j.status not in FINAL_STATUSES)

    async def cancel(self, principal: Principal, job_id: str) -> Job:
        """Cancel the caller's job. A pending job never runs; a running one stops before its next
        document (the one in flight is rolled back, never half written); what it held (its uploads) is
        released. A finished job stays as it is.
        409 for a synchronous request's row: it holds a jobs_per_user slot while that request runs, and
        ends with it (cancelling it would free the slot, not stop the work)."""
        job = await self.get(principal, job_id)
        if job.kind == JobKind.REQUEST.value:
            raise Conflict(
                f"Job {job_id} is a synchronous request's hold on a jobs_per_user slot: it ends with its "
                "request (close that request to stop it)."
            )
        async with self._db.transaction() as session:
            canceled = await repository.cancel(session, job_id, now_ts())
        if canceled:
            await self.ended(job_id)
        return await self.get(principal, job_id)

    async def wait(self, principal: Principal, job_id: str, poll: float = 0.05) -> Job:
        """The job once finished (completed, failed or canceled), for routes that answer synchronously."""
        while True:
            job = await self.get(principal, job_id)
            if job.status in FINAL_STATUSES:
                return job
            await asyncio.sleep(poll)
            poll = min(poll * 1.5, 0.5)
