"""Two-step ingestion (h2oGPTe): files are uploaded first, then ingested into a collection with options
(chunking from the collection's settings, one chunk per page, summaries and sample questions written
by the chat model). Each ingestion is a job on the queue (jobs/), run by a worker."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.accounting.service import CallContext
from lockgate.errors import AppError, InvalidRequest, NotFound
from lockgate.gateway.request import read_chat
from lockgate.gateway.service import GatewayService
from lockgate.identity.schemas import Principal
from lockgate.jobs.models import Job, JobKind
from lockgate.jobs.schemas import ChunkingSpec, IngestPayload
from lockgate.jobs.service import JobService
from lockgate.jobs.worker import JobRun
from lockgate.kit.db import Database
from lockgate.rag import library_repository
from lockgate.rag.access import writable_collection
from lockgate.rag.chunking import ChunkingOptions
from lockgate.rag.ingestion import Ingestion
from lockgate.rag.job_uploads import add_for_job, hand_to_job
from lockgate.rag.models import Document, Upload
from lockgate.rag.schemas import FileResult, SourceFile, clip_name

SUMMARY_INPUT_CHARS = 2000


@dataclass(frozen=True, slots=True)
class IngestOptions:
    gen_doc_summaries: bool | None = None
    gen_doc_questions: bool | None = None
    chunk_by_page: bool | None = None
    keep_tables_as_one_chunk: bool | None = None
    metadata: dict[str, Any] | None = None


class Uploads:
    def __init__(self, db: Database, ingestion: Ingestion, gateway: GatewayService, jobs: JobService):
        self._db = db
        self._jobs = jobs
        self._ingestion = ingestion
        self._gateway = gateway

    async def save(self, principal: Principal, name: str, content_type: str | None, data: bytes) -> int:
        async with self._db.transaction() as session:
            row = Upload(
                owner_id=principal.user_id, name=clip_name(name), content_type=content_type, data=data
            )
            session.add(row)
            await session.flush()
            return row.id

    async def ingest(
        self, ctx: CallContext, upload_ids: list[int], collection_id: int, options: IngestOptions
    ) -> Job:
        """Queue the ingestion of the uploads (one document each, then the upload is forgotten) as one
        job, answered at once; its result will hold the document ids, in order. The job holds the
        uploads: they are deleted when it ends, ingested or not (rag/job_uploads.py). Unknown uploads
        or an unwritable collection are refused (404/403), uploads another job holds with 409, before
        any job exists."""
        principal = ctx.principal
        async with self._db.transaction() as session:
            for position, upload_id in enumerate(upload_ids):
                upload = await session.get(Upload, upload_id)
                if upload is None or upload.owner_id != principal.user_id:
                    # named by position: the client sent a public id, the row id is ours alone
                    raise NotFound(f"Upload {position + 1} of upload_ids not found.", param="upload_ids")
            collection = await writable_collection(session, principal, collection_id)
            settings = dict(collection.settings or {})
        payload = IngestPayload(
            endpoint=ctx.endpoint,
            collection_id=collection_id,
            upload_ids=upload_ids,
            chunking=ChunkingSpec(**asdict(_chunking(settings, options))),
            metadata=options.metadata or {},
            summaries=_flag(options.gen_doc_summaries, settings.get("gen_doc_summaries")),
            questions=_flag(options.gen_doc_questions, settings.get("gen_doc_questions")),
        )
        name = f"Ingesting {len(upload_ids)} file(s)"

        async def attach(session: AsyncSession, job_id: str) -> None:
            await hand_to_job(session, job_id, principal.user_id, upload_ids)

        return await self._jobs.submit(
            principal, JobKind.INGEST_UPLOAD, name, len(upload_ids), payload, collection_id, attach=attach
        )

    async def ingest_now(
        self,
        ctx: CallContext,
        collection_id: int,
        file: tuple[str, str | None, bytes],
        name: str | None,
        chunking: ChunkingOptions,
        metadata: dict[str, Any],
    ) -> FileResult:
        """One file (name, content type, bytes) as a new document, written before this answers
        (synchronous POST /v1/documents, the console's upload), counted as one of the caller's running
        jobs meanwhile: 429 (jobs_per_user) when they already run as many as allowed. Errors as
        Ingestion.ingest_file."""
        filename, content_type, data = file
        async with self._jobs.running_here(ctx.principal, f"Ingesting {name or filename}"):
            return await self._ingestion.ingest_file(
                ctx, collection_id, filename, content_type, data, name, chunking, metadata
            )

    async def ingest_document(
        self,
        ctx: CallContext,
        collection_id: int,
        file: tuple[str, str | None, bytes],
        name: str | None,
        chunking: ChunkingOptions,
        metadata: dict[str, Any],
    ) -> Job:
        """Queue one file (name, content type, bytes) as a document of the collection (POST
        /v1/documents?async=true): kept as an upload held by its job (deleted when the job ends)."""
        filename, content_type, data = file
        payload = IngestPayload(
            endpoint=ctx.endpoint,
            collection_id=collection_id,
            upload_ids=[],
            names=[name],
            chunking=ChunkingSpec(**asdict(chunking)),
            metadata=metadata,
        )

        async def attach(session: AsyncSession, job_id: str) -> IngestPayload:
            await writable_collection(session, ctx.principal, collection_id)
            source = SourceFile(name or filename, filename, content_type, data)
            upload_ids = await add_for_job(session, job_id, ctx.principal.user_id, [source])
            return payload.model_copy(update={"upload_ids": upload_ids})

        title = f"Ingesting {name or filename}"
        return await self._jobs.submit(
            ctx.principal, JobKind.INGEST_DOCUMENT, title, 1, payload, collection_id, attach=attach
        )

    async def run_ingest(self, run: JobRun) -> None:
        """The work of an ingestion job, from the first upload not yet ingested. Each document is
        written, its upload forgotten and the job advanced in one transaction: a worker killed midway
        leaves the document whole or absent, and the retry goes on from there. A file that cannot be
        read (a 4xx of its own) fails alone, as a line of the job's errors; the others go on."""
        job = IngestPayload.model_validate(run.job.payload)
        ctx = CallContext(run.principal, job.endpoint)
        chunking = ChunkingOptions(**job.chunking.model_dump())
        document_ids: list[int] = run.result.setdefault("document_ids", [])
        for position in range(run.done, len(job.upload_ids)):
            async with self._db.transaction() as session:
                upload = await session.get(Upload, job.upload_ids[position])
                if upload is None:
                    raise NotFound(f"Upload {position + 1} of upload_ids not found.", param="upload_ids")
                filename, content_type, data = upload.name, upload.content_type, upload.data
            name = job.names[position] if position < len(job.names) else None

            async def written(
                session: AsyncSession, document_id: int, upload_id: int = upload.id, done: int = position + 1
            ) -> None:
                await session.execute(delete(Upload).where(Upload.id == upload_id))
                document_ids.append(document_id)
                await run.advance(done, session)

            recorded = len(document_ids)
            try:
                ingested = await self._ingestion.ingest_file(
                    ctx,
                    job.collection_id,
                    filename,
                    content_type,
                    data,
                    name or filename,
                    chunking,
                    job.metadata,
                    written,
                )
                document_id = ingested.document_id
            except BaseException as exc:
                del document_ids[recorded:]  # recorded in a transaction that rolled back
                if not isinstance(exc, AppError) or exc.status_code >= 500:
                    raise  # the job cannot go on (model down, worker stopping): failed, or retried
                # this file cannot be read: it alone fails, named in the job's errors, and the rest go on
                run.errors.append(f"{name or filename}: {exc.message}")
                async with self._db.transaction() as session:
                    await session.execute(delete(Upload).where(Upload.id == upload.id))
                    await run.advance(position + 1, session)
                continue
            if (job.summaries or job.questions) and document_id is not None:  # None only on failure, raised
                await self._describe(ctx, document_id, job.summaries, job.questions)

    async def pending(self, principal: Principal) -> list[int]:
        """The caller's uploads not yet ingested, oldest first."""
        async with self._db.transaction() as session:
            return await library_repository.uploads_of(session, principal.user_id)

    async def forget(self, principal: Principal, upload_id: int) -> None:
        """Drop an upload that will not be ingested; 404 for anyone else's."""
        async with self._db.transaction() as session:
            upload = await session.get(Upload, upload_id)
            if upload is None or upload.owner_id != principal.user_id:
                raise NotFound("Upload not found.", param="id")
            await session.delete(upload)

    # -- summaries and sample questions through the gateway's chat model ----------------------------

    def _chat_model(self) -> str | None:
        return self._gateway.registry.default_chat_model()

    async def _ask(self, ctx: CallContext, model: str, instruction: str, text: str, max_tokens: int) -> str:
        call = CallContext(ctx.principal, ctx.endpoint, ctx.method)
        answer = await self._gateway.generate(
            call,
            read_chat(
                {
                    "model": model,
                    "messages": [{"role": "user", "content": f"{instruction}\n\n{text}"}],
                    "max_tokens": max_tokens,
                    "temperature": 0.2,
                }
            ),
        )
        return (answer.answer["choices"][0]["message"].get("content") or "").strip()

    async def _describe(self, ctx: CallContext, document_id: int, summary: bool, questions: bool) -> None:
        model = self._chat_model()
        if model is None:
            raise InvalidRequest(
                "gen_doc_summaries/gen_doc_questions: no chat model is served to write them.",
                param="gen_doc_summaries",
            )
        async with self._db.transaction() as session:
            chunks = await library_repository.chunks_of(session, document_id)
            text = "\n".join(c.content for c in chunks)[:SUMMARY_INPUT_CHARS]
        written_summary = (
            await self._ask(ctx, model, "Summarize this document in two or three sentences.", text, 128)
            if summary
            else None
        )
        written_questions = (
            _questions(
                await self._ask(
                    ctx,
                    model,
                    "Write three short questions that this document answers, one per line.",
                    text,
                    96,
                )
            )
            if questions
            else None
        )
        async with self._db.transaction() as session:
            document = await session.get(Document, document_id)
            if document is None:
                return
            if written_summary is not None:
                document.summary = written_summary
            if written_questions is not None:
                document.questions = written_questions


def _flag(asked: bool | None, default: Any) -> bool:
    return bool(default) if asked is None else asked


def _chunking(settings: dict[str, Any], options: IngestOptions) -> ChunkingOptions:
    by_page = _flag(options.chunk_by_page, settings.get("chunk_by_page"))
    # In the embedding model's tokens; no size: as many as it reads whole.
    size = int(settings.get("max_tokens_per_chunk") or 0) or None
    overlap = int(settings.get("chunk_overlap_tokens") or 0)
    return ChunkingOptions(
        chunk_size=size,
        unit="tokens",
        chunk_overlap=min(overlap, size - 1) if size else overlap,
        disable_chunking=by_page,
    )


def _questions(text: str) -> list[str]:
    lines = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip() for line in text.splitlines()]
    return [line for line in lines if len(line) > 3][:5]
