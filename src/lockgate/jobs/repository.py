"""SQL of the jobs table. Every change a worker makes is conditional on it still holding the job
(status running, its own worker id): a worker that lost its lease, or whose job was canceled, changes
nothing and learns so from the row count."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Executable, delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.identity.models import User
from lockgate.jobs.models import Job, JobKind, JobStatus


async def _changed_one(session: AsyncSession, stmt: Executable) -> bool:
    """Whether the UPDATE/DELETE matched exactly one row (the guard of a compare-and-set)."""
    return cast("CursorResult[Any]", await session.execute(stmt)).rowcount == 1


def _held(job_id: str, worker: str) -> ColumnElement[bool]:
    return (Job.id == job_id) & (Job.worker == worker) & (Job.status == JobStatus.RUNNING)


async def claim(session: AsyncSession, job_id: str, worker: str, now: int, per_user: int) -> bool:
    """Take a pending job if its owner runs fewer than `per_user` jobs: one worker wins. The owner's
    row is locked first (PostgreSQL; SQLite serializes writers anyway), so two replicas claiming jobs of
    one user at once count each other's claim."""
    owner = await session.scalar(select(Job.owner_id).where(Job.id == job_id))
    if owner is None:
        return False
    await session.execute(select(User.id).where(User.id == owner).with_for_update())
    running = (
        select(func.count())
        .select_from(Job)
        .where(Job.owner_id == owner, Job.status == JobStatus.RUNNING)
        .scalar_subquery()
    )
    stmt = (
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.PENDING, running < per_user)
        .values(
            status=JobStatus.RUNNING, worker=worker, heartbeat=now, attempts=Job.attempts + 1, updated=now
        )
        .execution_options(synchronize_session=False)
    )
    return await _changed_one(session, stmt)


async def hold(
    session: AsyncSession,
    job_id: str,
    owner: int,
    key_id: int | None,
    holder: str,
    name: str,
    now: int,
    per_user: int,
) -> bool:
    """Insert a job already running (held by `holder`, a request) if its owner runs fewer than
    `per_user` jobs; whether it did. One statement after locking the owner's row, as `claim`."""
    await session.execute(select(User.id).where(User.id == owner).with_for_update())
    running = (
        select(func.count())
        .select_from(Job)
        .where(Job.owner_id == owner, Job.status == JobStatus.RUNNING)
        .scalar_subquery()
    )
    values = {
        "id": job_id,
        "owner_id": owner,
        "key_id": key_id,
        "kind": JobKind.REQUEST.value,
        "name": name[:255],
        "status": JobStatus.RUNNING.value,
        "done": 0,
        "total": 1,
        "errors": [],
        "result": {},
        "payload": {},
        "attempts": 0,  # a request's row is never started by a worker, only cleared (job_work.py)
        "worker": holder,
        "heartbeat": now,
        "created": now,
        "updated": now,
    }
    row = select(
        *(literal(value, Job.__table__.c[column].type).label(column) for column, value in values.items())
    )
    stmt = insert(Job).from_select(list(values), row.where(running < per_user))
    return await _changed_one(session, stmt)


async def forget(session: AsyncSession, job_id: str) -> None:
    await session.execute(delete(Job).where(Job.id == job_id))


async def renew(session: AsyncSession, worker: str, job_ids: list[str], now: int) -> set[str]:
    """Renew the lease on these jobs; the ones this worker still holds."""
    if not job_ids:
        return set()
    held = (Job.id.in_(job_ids)) & (Job.worker == worker) & (Job.status == JobStatus.RUNNING)
    await session.execute(
        update(Job).where(held).values(heartbeat=now).execution_options(synchronize_session=False)
    )
    return set((await session.scalars(select(Job.id).where(held))).all())


async def _update_held(session: AsyncSession, job_id: str, holder: str, **values: Any) -> bool:
    """Write `values` only while `holder` (a worker id) still holds the job; whether it did."""
    stmt = (
        update(Job).where(_held(job_id, holder)).values(**values).execution_options(synchronize_session=False)
    )
    return await _changed_one(session, stmt)


async def progress(
    session: AsyncSession,
    job_id: str,
    worker: str,
    done: int,
    errors: list[str],
    result: dict[str, Any],
    now: int,
) -> bool:
    return await _update_held(
        session, job_id, worker, done=done, errors=errors, result=result, heartbeat=now, updated=now
    )


async def finish(
    session: AsyncSession,
    job_id: str,
    worker: str,
    status: JobStatus,
    errors: list[str],
    result: dict[str, Any],
    now: int,
) -> bool:
    return await _update_held(
        session,
        job_id,
        worker,
        status=status,
        errors=errors,
        result=result,
        worker=None,
        heartbeat=None,
        updated=now,
    )


async def release(session: AsyncSession, job_id: str, worker: str, now: int) -> bool:
    """Give a held job back to the queue (this worker stops before finishing it)."""
    return await _update_held(
        session, job_id, worker, status=JobStatus.PENDING, worker=None, heartbeat=None, updated=now
    )


async def stale(
    session: AsyncSession, running_before: int, pending_before: int, limit: int = 100
) -> list[Job]:
    """Running jobs whose lease ran out before `running_before`, and pending jobs untouched since
    `pending_before` (their message may have been lost): both are offered to the queue again."""
    stmt = (
        select(Job)
        .where(
            ((Job.status == JobStatus.RUNNING) & (Job.heartbeat < running_before))
            | ((Job.status == JobStatus.PENDING) & (Job.updated < pending_before))
        )
        .order_by(Job.created)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def requeue(session: AsyncSession, job: Job, now: int, give_up: str | None) -> bool:
    """Hand a stale job back (pending), or fail it with `give_up` once it used all its attempts; only if
    nobody touched it since it was read (another replica may be sweeping too)."""
    unchanged = (Job.id == job.id) & (Job.status == job.status) & (Job.updated == job.updated)
    if job.status == JobStatus.RUNNING:
        unchanged &= Job.heartbeat == job.heartbeat
    values: dict[str, Any] = {"worker": None, "heartbeat": None, "updated": now}
    if give_up is None:
        values["status"] = JobStatus.PENDING
    else:
        values.update(status=JobStatus.FAILED, errors=[*(job.errors or []), give_up])
    stmt = update(Job).where(unchanged).values(**values).execution_options(synchronize_session=False)
    return await _changed_one(session, stmt)


async def cancel(session: AsyncSession, job_id: str, now: int) -> bool:
    """Cancel a job not yet finished; its worker (if any) notices at its next step or lease renewal."""
    stmt = (
        update(Job)
        .where(Job.id == job_id, Job.status.in_([JobStatus.PENDING, JobStatus.RUNNING]))
        .values(status=JobStatus.CANCELED, worker=None, heartbeat=None, updated=now)
        .execution_options(synchronize_session=False)
    )
    return await _changed_one(session, stmt)
