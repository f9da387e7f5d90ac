"""A sync by name run as a job (POST /v1/collections/{id}/sync?async=true, what `lockgate ingest` sends):
the files are kept as uploads, the request answers the job at once, and a worker syncs them a few at a
time, recording each file's outcome (created, replaced, unchanged, failed with its reason).

Retry-safe without a per-document hook: a sync is idempotent by name and content hash. A worker that
dies after writing a step's documents but before recording the step leaves them whole; its retry finds
them and reports them `unchanged`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.accounting.service import CallContext
from lockgate.errors import InvalidRequest, NotFound
from lockgate.jobs.models import Job, JobKind
from lockgate.jobs.schemas import ChunkingSpec, FileOutcome, IngestPayload
from lockgate.jobs.service import JobService
from lockgate.jobs.worker import JobRun
from lockgate.kit.db import Database
from lockgate.rag.access import writable_collection
from lockgate.rag.chunking import ChunkingOptions
from lockgate.rag.ingestion import Ingestion
from lockgate.rag.job_uploads import add_for_job
from lockgate.rag.models import Upload
from lockgate.rag.schemas import FileResult, SourceFile

# Files synced per step: each step embeds its files together (throughput) and then records their
# outcomes with the job's progress in one transaction (what a client polling the job sees move).
STEP_FILES = 16


class SyncJobs:
    def __init__(self, db: Database, ingestion: Ingestion, jobs: JobService):
        self._db = db
        self._ingestion = ingestion
        self._jobs = jobs

    async def sync_now(
        self,
        ctx: CallContext,
        collection_id: int,
        sources: list[SourceFile],
        chunking: ChunkingOptions,
        metadata: dict[str, Any],
    ) -> list[FileResult]:
        """Ingestion.sync_files within this request, counted as one of the caller's running jobs
        meanwhile: 429 (jobs_per_user) when they already run as many as allowed."""
        async with self._jobs.running_here(ctx.principal, f"Syncing {len(sources)} file(s)"):
            return await self._ingestion.sync_files(ctx, collection_id, sources, chunking, metadata)

    async def submit(
        self,
        ctx: CallContext,
        collection_id: int,
        sources: list[SourceFile],
        chunking: ChunkingOptions,
        metadata: dict[str, Any],
    ) -> Job:
        """Queue a sync of `sources` into the collection; the job, pending. 422 when two files share a
        name; 404/403 for a collection the caller cannot write (before anything is stored)."""
        names = [source.name for source in sources]
        repeated = next((name for name in names if names.count(name) > 1), None)
        if repeated is not None:
            raise InvalidRequest(f"names: '{repeated}' is given to two files.", param="names")
        payload = IngestPayload(
            endpoint=ctx.endpoint,
            collection_id=collection_id,
            upload_ids=[],
            names=list(names),
            chunking=ChunkingSpec(**asdict(chunking)),
            metadata=metadata,
        )

        async def attach(session: AsyncSession, job_id: str) -> IngestPayload:
            await writable_collection(session, ctx.principal, collection_id)
            upload_ids = await add_for_job(session, job_id, ctx.principal.user_id, sources)
            return payload.model_copy(update={"upload_ids": upload_ids})

        title = f"Syncing {len(sources)} file(s)"
        return await self._jobs.submit(
            ctx.principal, JobKind.SYNC_FILES, title, len(sources), payload, collection_id, attach=attach
        )

    async def run(self, run: JobRun) -> None:
        """The work of a sync job, from the first file not yet recorded. An error that stops the whole
        job (the embedding model down, the collection gone) fails it; a file that cannot be read only
        fails that file. The uploads of a job that ends without finishing are dropped with it
        (rag/job_uploads.py)."""
        job = IngestPayload.model_validate(run.job.payload)
        ctx = CallContext(run.principal, job.endpoint)
        chunking = ChunkingOptions(**job.chunking.model_dump())
        files: list[dict[str, Any]] = run.result.setdefault("files", [])
        document_ids: list[int] = run.result.setdefault("document_ids", [])
        while run.done < len(job.upload_ids):
            step = job.upload_ids[run.done : run.done + STEP_FILES]
            async with self._db.transaction() as session:
                rows = {
                    row.id: row for row in await session.scalars(select(Upload).where(Upload.id.in_(step)))
                }
            missing = [upload_id for upload_id in step if upload_id not in rows]
            if missing:
                position = job.upload_ids.index(missing[0])
                raise NotFound(f"{job.names[position]}: its upload is gone; the job cannot go on.")
            sources = []
            for i, upload_id in enumerate(step):
                row, name = rows[upload_id], job.names[run.done + i]  # a sync job names every file
                sources.append(
                    SourceFile(row.name if name is None else name, row.name, row.content_type, row.data)
                )
            results = await self._ingestion.sync_files(
                ctx, job.collection_id, sources, chunking, job.metadata
            )
            outcomes = [_outcome(result) for result in results]
            async with self._db.transaction() as session:
                await session.execute(delete(Upload).where(Upload.id.in_(step)))
                files.extend(outcome.model_dump() for outcome in outcomes)
                document_ids.extend(o.id for o in outcomes if o.id is not None and o.status != "failed")
                run.errors.extend(f"{o.name}: {o.error}" for o in outcomes if o.error is not None)
                await run.advance(run.done + len(step), session)


def _outcome(result: FileResult) -> FileOutcome:
    error = None if result.error is None else f"{result.error.status_code} {result.error.message}"
    return FileOutcome(
        name=result.name,
        status=result.outcome.value,
        id=result.document_id,
        chunks=result.chunks,
        error=error,
        warnings=list(result.warnings),
    )
