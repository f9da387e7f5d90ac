"""Two-step ingestion (h2oGPTe): files are uploaded first, then ingested into a collection with options
(chunking from the collection's settings, one chunk per page, summaries and sample questions written
by the chat model). Each ingestion is run as a job (jobs/)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lockgate.accounting.service import CallContext
from lockgate.errors import InvalidRequest, NotFound
from lockgate.gateway.schemas import Endpoint
from lockgate.gateway.service import GatewayService
from lockgate.identity.schemas import Principal
from lockgate.jobs.models import Job, JobKind
from lockgate.jobs.service import JobHandle, JobService
from lockgate.kit.db import Database
from lockgate.rag import library_repository
from lockgate.rag.chunking import ChunkingOptions
from lockgate.rag.models import Document, Upload
from lockgate.rag.service import RagService

SUMMARY_INPUT_CHARS = 2000


@dataclass(frozen=True, slots=True)
class IngestOptions:
    gen_doc_summaries: bool | None = None
    gen_doc_questions: bool | None = None
    chunk_by_page: bool | None = None
    keep_tables_as_one_chunk: bool | None = None
    metadata: dict[str, Any] | None = None


class Uploads:
    def __init__(self, db: Database, rag: RagService, gateway: GatewayService, jobs: JobService):
        self._db = db
        self._jobs = jobs
        self._rag = rag
        self._gateway = gateway

    async def save(self, principal: Principal, name: str, content_type: str | None, data: bytes) -> int:
        async with self._db.transaction() as session:
            row = Upload(owner_id=principal.user_id, name=name, content_type=content_type, data=data)
            session.add(row)
            await session.flush()
            return row.id

    async def ingest(
        self,
        ctx: CallContext,
        upload_ids: list[int],
        collection_id: int,
        options: IngestOptions,
        raise_errors: bool = True,
    ) -> Job:
        """Ingest each upload (then forget it) as one job, finished when this returns: its result holds
        the document ids, in order. Unknown uploads or an unwritable collection are refused before
        any job starts. A failure is recorded in the job (and raised if `raise_errors`); documents
        ingested before it stay."""
        principal = ctx.principal
        async with self._db.transaction() as session:
            uploads = []
            for upload_id in upload_ids:
                upload = await session.get(Upload, upload_id)
                if upload is None or upload.owner_id != principal.user_id:
                    raise NotFound(f"Upload {upload_id} not found.", param="upload_ids")
                uploads.append((upload.id, upload.name, upload.content_type, upload.data))
            collection = await self._rag.writable(session, principal, collection_id)
            settings = dict(collection.settings or {})
        chunking = _chunking(settings, options)
        summaries = _flag(options.gen_doc_summaries, settings.get("gen_doc_summaries"))
        questions = _flag(options.gen_doc_questions, settings.get("gen_doc_questions"))

        async def work(job: JobHandle) -> None:
            document_ids: list[int] = []
            job.result["document_ids"] = document_ids
            for upload_id, name, content_type, data in uploads:
                document_id = await self._rag.ingest(
                    ctx, collection_id, name, content_type, data, name, chunking, options.metadata or {}
                )
                document_ids.append(document_id)
                if summaries or questions:
                    await self._describe(ctx, document_id, summaries, questions)
                async with self._db.transaction() as session:
                    upload = await session.get(Upload, upload_id)
                    if upload is not None:
                        await session.delete(upload)
                await job.advance(len(document_ids))

        name = f"Ingesting {len(uploads)} file(s)"
        return await self._jobs.run(
            principal, JobKind.INGEST_UPLOAD, name, len(uploads), work, collection_id, raise_errors
        )

    async def pending(self, principal: Principal) -> list[int]:
        """The caller's uploads not yet ingested, oldest first."""
        async with self._db.transaction() as session:
            return await library_repository.uploads_of(session, principal.user_id)

    async def forget(self, principal: Principal, upload_id: int) -> None:
        """Drop an upload that will not be ingested; 404 for anyone else's."""
        async with self._db.transaction() as session:
            upload = await session.get(Upload, upload_id)
            if upload is None or upload.owner_id != principal.user_id:
                raise NotFound(f"Upload {upload_id} not found.", param="id")
            await session.delete(upload)

    # -- summaries and sample questions through the gateway's chat model ----------------------------

    def _chat_model(self) -> str | None:
        return self._gateway.registry.default_chat_model()

    async def _ask(self, ctx: CallContext, model: str, instruction: str, text: str, max_tokens: int) -> str:
        call = CallContext(ctx.principal, ctx.endpoint, ctx.method)
        answer = await self._gateway.generate(
            call,
            Endpoint.CHAT,
            {
                "model": model,
                "messages": [{"role": "user", "content": f"{instruction}\n\n{text}"}],
                "max_tokens": max_tokens,
                "temperature": 0.2,
            },
        )
        return (answer["choices"][0]["message"].get("content") or "").strip()

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
