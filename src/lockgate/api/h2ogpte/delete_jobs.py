"""h2oGPTe `*_job` routes: deletions (collections, documents, documents of one collection, chat
sessions) and importing a document into a collection. Each answers a JobDetails the client polls
(api/h2ogpte/jobs.py); the job is finished when answered. An id the caller may not change is an error
recorded in the job, as h2oGPTe reports it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from lockgate.api.deps import Caller, ChatCaller
from lockgate.api.h2ogpte.chat_views import Conversations
from lockgate.api.h2ogpte.common import from_public_id, h2ogpte_router
from lockgate.api.h2ogpte.jobs import JobsDep, job_out
from lockgate.api.h2ogpte.library_views import LibraryDep
from lockgate.jobs.models import JobKind
from lockgate.jobs.service import JobHandle

router = h2ogpte_router("jobs")
MAX_IDS = 10_000


class CollectionIds(BaseModel):
    collection_ids: list[str] = Field(max_length=MAX_IDS)


class DocumentIds(BaseModel):
    document_ids: list[str] = Field(max_length=MAX_IDS)


class DocumentRef(BaseModel):
    document_id: str


class SessionIds(BaseModel):
    session_ids: list[str] = Field(max_length=MAX_IDS)


def _id(public: str) -> int:
    return from_public_id("collection", public)


@router.post("/collections/delete_job", status_code=201)
async def delete_collections_job(
    body: CollectionIds, caller: Caller, library: LibraryDep, jobs: JobsDep
) -> dict[str, Any]:
    """Delete collections (the caller's own); an id that is not is an error in the job."""
    ids = [_id(c) for c in body.collection_ids]

    async def work(job: JobHandle) -> None:
        for done, collection_id in enumerate(ids, 1):
            await library.delete_collection(caller, collection_id)
            await job.advance(done)

    name = f"Deleting {len(ids)} collection(s)"
    return job_out(await jobs.run(caller, JobKind.DELETE_COLLECTIONS, name, len(ids), work))


@router.post("/collections/{collection_id}/documents/delete_job", status_code=201)
async def remove_documents_job(
    collection_id: str, body: DocumentIds, caller: Caller, library: LibraryDep, jobs: JobsDep
) -> dict[str, Any]:
    """Remove documents from one collection (as DELETE /collections/{id}/documents/{document_id})."""
    cid = _id(collection_id)
    ids = [from_public_id("document", d) for d in body.document_ids]

    async def work(job: JobHandle) -> None:
        for done, document_id in enumerate(ids, 1):
            await library.remove_document(caller, cid, document_id)
            await job.advance(done)

    name = f"Removing {len(ids)} document(s)"
    return job_out(await jobs.run(caller, JobKind.REMOVE_DOCUMENTS, name, len(ids), work, cid))


@router.post("/documents/delete_job", status_code=201)
async def delete_documents_job(
    body: DocumentIds, caller: Caller, library: LibraryDep, jobs: JobsDep
) -> dict[str, Any]:
    """Delete documents everywhere (as DELETE /documents/{document_id})."""
    ids = [from_public_id("document", d) for d in body.document_ids]

    async def work(job: JobHandle) -> None:
        for done, document_id in enumerate(ids, 1):
            await library.delete_document(caller, document_id)
            await job.advance(done)

    name = f"Deleting {len(ids)} document(s)"
    return job_out(await jobs.run(caller, JobKind.DELETE_DOCUMENTS, name, len(ids), work))


@router.post("/chats/delete_job", status_code=201)
async def delete_chat_sessions_job(
    body: SessionIds, caller: ChatCaller, conversations: Conversations, jobs: JobsDep
) -> dict[str, Any]:
    """Delete chat sessions with their messages (as DELETE /chats/{session_id})."""
    ids = [from_public_id("chat", s) for s in body.session_ids]

    async def work(job: JobHandle) -> None:
        for done, session_id in enumerate(ids, 1):
            await conversations.delete(caller, session_id)
            await job.advance(done)

    name = f"Deleting {len(ids)} chat session(s)"
    return job_out(await jobs.run(caller, JobKind.DELETE_CHATS, name, len(ids), work))


@router.post("/collections/{collection_id}/documents/insert_job", status_code=201)
async def import_document_job(
    collection_id: str, body: DocumentRef, caller: Caller, library: LibraryDep, jobs: JobsDep
) -> dict[str, Any]:
    """Put a document into another collection too (as PUT /collections/{id}/documents/{document_id})."""
    cid, root = _id(collection_id), from_public_id("document", body.document_id)

    async def work(job: JobHandle) -> None:
        await library.import_document(caller, cid, root)
        job.result["document_ids"] = [root]
        await job.advance(1)

    return job_out(await jobs.run(caller, JobKind.IMPORT_DOCUMENT, "Importing 1 document", 1, work, cid))
