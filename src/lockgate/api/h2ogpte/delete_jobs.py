"""h2oGPTe `*_job` routes: deletions (collections, documents, documents of one collection, chat
sessions) and importing a document into a collection. Each answers a pending JobDetails at once; a
worker does the work (job_work.py) and the client polls GET /jobs/{id} (api/h2ogpte/jobs.py). An id the
caller may not change is an error recorded in the job, as h2oGPTe reports it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from lockgate.api.deps import Caller, ChatCaller
from lockgate.api.h2ogpte.common import from_public_id, h2ogpte_router
from lockgate.api.h2ogpte.jobs import JobsDep, job_out
from lockgate.jobs.models import JobKind

router = h2ogpte_router("jobs")
MAX_IDS = 10_000
PREFIX = "/api/v1"


class CollectionIds(BaseModel):
    collection_ids: list[str] = Field(max_length=MAX_IDS)


class DocumentIds(BaseModel):
    document_ids: list[str] = Field(max_length=MAX_IDS)


class DocumentRef(BaseModel):
    document_id: str


class SessionIds(BaseModel):
    session_ids: list[str] = Field(max_length=MAX_IDS)


def _ids(kind: str, public: list[str]) -> list[int]:
    return [from_public_id(kind, p) for p in public]


@router.post("/collections/delete_job", status_code=201)
async def delete_collections_job(body: CollectionIds, caller: Caller, jobs: JobsDep) -> dict[str, Any]:
    """Delete collections (the caller's own); an id that is not is an error in the job."""
    ids = _ids("collection", body.collection_ids)
    title, endpoint = "Deleting {n} collection(s)", f"{PREFIX}/collections/delete_job"
    return job_out(await jobs.submit_each(caller, JobKind.DELETE_COLLECTIONS, title, ids, endpoint))


@router.post("/collections/{collection_id}/documents/delete_job", status_code=201)
async def remove_documents_job(
    collection_id: str, body: DocumentIds, caller: Caller, jobs: JobsDep
) -> dict[str, Any]:
    """Remove documents from one collection (as DELETE /collections/{id}/documents/{document_id})."""
    cid = from_public_id("collection", collection_id)
    ids = _ids("document", body.document_ids)
    title, endpoint = "Removing {n} document(s)", f"{PREFIX}/collections/{{id}}/documents/delete_job"
    return job_out(await jobs.submit_each(caller, JobKind.REMOVE_DOCUMENTS, title, ids, endpoint, cid))


@router.post("/documents/delete_job", status_code=201)
async def delete_documents_job(body: DocumentIds, caller: Caller, jobs: JobsDep) -> dict[str, Any]:
    """Delete documents everywhere (as DELETE /documents/{document_id})."""
    ids = _ids("document", body.document_ids)
    title, endpoint = "Deleting {n} document(s)", f"{PREFIX}/documents/delete_job"
    return job_out(await jobs.submit_each(caller, JobKind.DELETE_DOCUMENTS, title, ids, endpoint))


@router.post("/chats/delete_job", status_code=201)
async def delete_chat_sessions_job(body: SessionIds, caller: ChatCaller, jobs: JobsDep) -> dict[str, Any]:
    """Delete chat sessions with their messages (as DELETE /chats/{session_id})."""
    ids = _ids("chat", body.session_ids)
    title, endpoint = "Deleting {n} chat session(s)", f"{PREFIX}/chats/delete_job"
    return job_out(await jobs.submit_each(caller, JobKind.DELETE_CHATS, title, ids, endpoint))


@router.post("/collections/{collection_id}/documents/insert_job", status_code=201)
async def import_document_job(
    collection_id: str, body: DocumentRef, caller: Caller, jobs: JobsDep
) -> dict[str, Any]:
    """Put a document into another collection too (as PUT /collections/{id}/documents/{document_id})."""
    cid, root = from_public_id("collection", collection_id), from_public_id("document", body.document_id)
    title, endpoint = "Importing {n} document(s)", f"{PREFIX}/collections/{{id}}/documents/insert_job"
    return job_out(await jobs.submit_each(caller, JobKind.IMPORT_DOCUMENT, title, [root], endpoint, cid))
