"""Start, advance, finish and read jobs. `run` is the one place work is executed: today inline, before
the caller gets the job back (finished); a queue can take its place without changing the callers."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from lockgate.errors import AppError, Conflict, NotFound
from lockgate.identity.schemas import Principal
from lockgate.jobs.models import Job, JobKind, JobStatus
from lockgate.kit.db import Database

log = logging.getLogger("lockgate.jobs")


class JobHandle:
    """What running work may tell its job: progress, and the result to keep."""

    def __init__(self, jobs: JobService, job_id: str):
        self._jobs = jobs
        self.id = job_id
        self.result: dict[str, Any] = {}

    async def advance(self, done: int) -> None:
        await self._jobs._update(self.id, done=done)


Work = Callable[[JobHandle], Awaitable[None]]


class JobService:
    def __init__(self, db: Database):
        self._db = db

    async def start(
        self,
        principal: Principal,
        kind: JobKind,
        name: str,
        total: int,
        collection_id: int | None = None,
        job_id: str | None = None,
    ) -> str:
        """A running job; its id (a UUID string: `job_id` when the client chose it, 409 if taken)."""
        async with self._db.transaction() as session:
            if job_id is not None and await session.get(Job, job_id) is not None:
                raise Conflict(f"Job {job_id} already exists.")
            job = Job(
                id=job_id or str(uuid.uuid4()),
                owner_id=principal.user_id,
                kind=kind,
                name=name[:255],
                collection_id=collection_id,
                status=JobStatus.RUNNING,
                total=total,
                errors=[],
                result={},
            )
            session.add(job)
            return job.id

    async def finish(self, job_id: str, errors: list[str], result: dict[str, Any]) -> None:
        """Completed without errors, else failed with them."""
        status = JobStatus.FAILED if errors else JobStatus.COMPLETED
        await self._update(job_id, status=status, errors=errors, result=result)

    async def _update(self, job_id: str, **values: Any) -> None:
        async with self._db.transaction() as session:
            job = await session.get(Job, job_id)
            if job is not None:
                for field, value in values.items():
                    setattr(job, field, value)

    async def run(
        self,
        principal: Principal,
        kind: JobKind,
        name: str,
        total: int,
        work: Work,
        collection_id: int | None = None,
        raise_errors: bool = False,
        job_id: str | None = None,
    ) -> Job:
        """Run `work` as a job and return the job, finished. A failure of the work is recorded in the
        job (its message for an AppError, a generic one otherwise), and raised if `raise_errors`."""
        job_id = await self.start(principal, kind, name, total, collection_id, job_id)
        handle = JobHandle(self, job_id)
        errors: list[str] = []
        try:
            await work(handle)
        except Exception as exc:
            if isinstance(exc, AppError):
                errors.append(exc.message)
            else:
                log.exception("job %s (%s) failed", job_id, kind)
                errors.append(f"{name}: internal error.")
            await self.finish(job_id, errors, handle.result)
            if raise_errors:
                raise
            return await self.get(principal, job_id)
        await self.finish(job_id, errors, handle.result)
        return await self.get(principal, job_id)

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
