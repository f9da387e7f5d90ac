"""What each kind of job does, given the services it drives: the table the worker dispatches on. It
sits at the composition root beside app.py, not in jobs/: rag/ submits jobs, so jobs/ stays below the
domains whose work this table runs."""

from __future__ import annotations

import json

from lockgate.accounting.service import CallContext
from lockgate.conversations.content import ContentService
from lockgate.conversations.service import ConversationService
from lockgate.errors import AppError
from lockgate.jobs.models import JobKind
from lockgate.jobs.repository import forget
from lockgate.jobs.schemas import ItemsPayload, SummaryPayload
from lockgate.jobs.worker import JobRun, Work, each_item
from lockgate.rag.chunk_reads import ChunkReads
from lockgate.rag.library import Library
from lockgate.rag.sync_jobs import SyncJobs
from lockgate.rag.uploads import Uploads


def job_work(
    uploads: Uploads,
    sync_jobs: SyncJobs,
    library: Library,
    conversations: ConversationService,
    chunk_reads: ChunkReads,
    content: ContentService,
) -> dict[str, Work]:
    async def delete_collections(run: JobRun) -> None:
        items = ItemsPayload.model_validate(run.job.payload)
        await each_item(run, items.ids, lambda cid: library.delete_collection(run.principal, cid))

    async def delete_documents(run: JobRun) -> None:
        items = ItemsPayload.model_validate(run.job.payload)
        await each_item(run, items.ids, lambda root: library.delete_document(run.principal, root))

    async def remove_documents(run: JobRun) -> None:
        items = ItemsPayload.model_validate(run.job.payload)
        cid = items.collection_id or 0
        await each_item(run, items.ids, lambda root: library.remove_document(run.principal, cid, root))

    async def import_documents(run: JobRun) -> None:
        items = ItemsPayload.model_validate(run.job.payload)
        cid = items.collection_id or 0
        run.result["document_ids"] = items.ids
        await each_item(run, items.ids, lambda root: library.import_document(run.principal, cid, root))

    async def clear_request(run: JobRun) -> None:
        """A request's job whose process died (JobService.running_here): nothing to run, only its row
        to clear (what it wrote was written whole, or not at all)."""
        async with run.db.transaction() as session:
            await forget(session, run.id)

    async def delete_chats(run: JobRun) -> None:
        items = ItemsPayload.model_validate(run.job.payload)
        await each_item(run, items.ids, lambda sid: _deleted(conversations, run, sid))

    async def summarize(run: JobRun) -> None:
        job = SummaryPayload.model_validate(run.job.payload)
        run.result.update(document_id=job.document_id, kwargs=job.kwargs, content="", error="")
        try:
            document, texts = await chunk_reads.document_text(
                run.principal, job.document_id, job.max_num_chunks
            )
            answer = await content.summarize(
                CallContext(run.principal, job.endpoint),
                job.llm,
                texts or [document.name],
                job.prompts,
                job.llm_args,
            )
        except AppError as exc:
            run.result["error"] = exc.message
            raise
        run.result["content"] = answer.content
        run.result["usage_stats"] = json.dumps(
            {"llm": answer.llm, "input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens}
        )
        await run.advance(1)

    return {
        JobKind.INGEST_UPLOAD: uploads.run_ingest,
        JobKind.INGEST_DOCUMENT: uploads.run_ingest,
        JobKind.SYNC_FILES: sync_jobs.run,
        JobKind.DELETE_COLLECTIONS: delete_collections,
        JobKind.DELETE_DOCUMENTS: delete_documents,
        JobKind.REMOVE_DOCUMENTS: remove_documents,
        JobKind.IMPORT_DOCUMENT: import_documents,
        JobKind.DELETE_CHATS: delete_chats,
        JobKind.PROCESS_DOCUMENT: summarize,
        JobKind.REQUEST: clear_request,
    }


async def _deleted(conversations: ConversationService, run: JobRun, session_id: int) -> None:
    await conversations.delete(run.principal, session_id)
