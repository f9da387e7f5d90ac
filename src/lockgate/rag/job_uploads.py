"""The uploads a job holds (uploads.job_id): written with the job (JobService.submit's `attach`), kept
while it is pending or running (a job retried after its worker died still finds its files), deleted when
it ends, however it ends: completed, failed (an AppError or not, given up after job_max_attempts),
canceled pending or running, or its key or collection gone. An ingestion deletes each upload as it
writes the document (rag/uploads.py, rag/sync_jobs.py); this drops the rest."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.errors import Conflict
from lockgate.jobs.models import Job, JobStatus
from lockgate.kit.db import Database
from lockgate.rag.models import Upload
from lockgate.rag.schemas import SourceFile, clip_name


class JobUploads:
    """JobHoldings (jobs/service.py) for uploads; registered in app.py."""

    def __init__(self, db: Database):
        self._db = db

    async def release(self, job_id: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(delete(Upload).where(Upload.job_id == job_id))

    async def release_leftovers(self) -> None:
        live = exists().where(Job.id == Upload.job_id, Job.status.in_([JobStatus.PENDING, JobStatus.RUNNING]))
        async with self._db.transaction() as session:
            await session.execute(
                delete(Upload)
                .where(Upload.job_id.is_not(None), ~live)
                .execution_options(synchronize_session=False)
            )


async def add_for_job(
    session: AsyncSession, job_id: str, owner_id: int, files: list[SourceFile]
) -> list[int]:
    """Store the files as uploads held by the job; their ids, in order."""
    rows = [
        Upload(
            owner_id=owner_id,
            name=clip_name(source.filename),
            content_type=source.content_type,
            data=source.data,
            job_id=job_id,
        )
        for source in files
    ]
    session.add_all(rows)
    await session.flush()
    return [row.id for row in rows]


async def hand_to_job(session: AsyncSession, job_id: str, owner_id: int, upload_ids: list[int]) -> None:
    """Hand the owner's uploads (h2oGPTe's, uploaded first) to the job that ingests them: 409 naming
    upload_ids when one is already another pending or running job's."""
    stmt = (
        update(Upload)
        .where(Upload.id.in_(upload_ids), Upload.owner_id == owner_id, Upload.job_id.is_(None))
        .values(job_id=job_id)
        .execution_options(synchronize_session=False)
    )
    handed = cast("CursorResult[Any]", await session.execute(stmt)).rowcount
    if handed != len(set(upload_ids)):
        held = await session.scalars(
            select(Upload.id).where(Upload.id.in_(upload_ids), Upload.job_id != job_id)
        )
        position = upload_ids.index(next(iter(held.all()), upload_ids[0]))
        raise Conflict(
            f"Upload {position + 1} of upload_ids is already being ingested by another job.",
            param="upload_ids",
        )
