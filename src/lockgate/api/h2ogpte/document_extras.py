"""h2oGPTe document extras: what `H2OGPTE.get_document` reads besides the document (its metadata and
per-page settings, empty where Lockgate keeps none), `process_document` / `summarize_document` (a job
whose result is the summary, read back at /document_summaries/{summary_id}), and `search_chunks`."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from lockgate.api.deps import ChatCaller, State
from lockgate.api.h2ogpte.chat_views import ChatContext, keyed_collection
from lockgate.api.h2ogpte.common import from_public_id, h2ogpte_router, timestamp, to_public_id
from lockgate.api.h2ogpte.jobs import JobsDep, job_out
from lockgate.api.h2ogpte.library_views import LibraryDep
from lockgate.errors import InvalidRequest, NotFound
from lockgate.jobs.models import JobKind
from lockgate.jobs.schemas import SummaryPayload
from lockgate.rag.chunk_reads import ChunkHit, ChunkReads

router = h2ogpte_router("documents")


def chunk_reads(state: State) -> ChunkReads:
    return state.chunk_reads


Chunks = Annotated[ChunkReads, Depends(chunk_reads)]


class ProcessBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    document_id: str
    summary_id: str | None = None
    system_prompt: str | None = None
    pre_prompt_summary: str | None = None
    prompt_summary: str | None = None
    llm: str | None = None
    llm_args: dict[str, Any] | None = None
    max_num_chunks: int | None = None
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")


class SearchBody(BaseModel):
    query: str = Field(max_length=10_000)
    topics: list[str] = Field(default_factory=list, max_length=1000)
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=1000)


def _summary_id(value: str | None) -> str:
    """The client's summary id (a UUID), which becomes the job's id."""
    if not value:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidRequest("summary_id: must be a UUID.", param="summary_id") from None


def _doc(public: str) -> int:
    return from_public_id("document", public)


async def _readable_metadata(library: LibraryDep, caller: ChatCaller, document_id: str) -> dict[str, Any]:
    return dict((await library.document(caller, _doc(document_id))).document.metadata)


@router.get("/documents/{document_id}/internal_metadata")
async def get_internal_metadata(document_id: str, caller: ChatCaller, library: LibraryDep) -> dict[str, Any]:
    return await _readable_metadata(library, caller, document_id)


@router.get("/documents/{document_id}/user_source_file")
@router.get("/documents/{document_id}/page_ocr_model")
@router.get("/documents/{document_id}/page_layout")
@router.get("/documents/{document_id}/guardrails_settings")
async def get_document_page_settings(
    document_id: str, caller: ChatCaller, library: LibraryDep
) -> dict[str, Any]:
    """Lockgate keeps no per-page OCR model, layout, source file or guardrails: empty, once readable."""
    await library.document(caller, _doc(document_id))
    return {}


@router.post("/documents/process_job", status_code=201)
async def process_document_job(
    body: ProcessBody, ctx: ChatContext, chunks: Chunks, jobs: JobsDep
) -> dict[str, Any]:
    """Summarise a document (or fill `schema`) as a job whose id is the summary's, answered at once."""
    root = _doc(body.document_id)
    summary_id = _summary_id(body.summary_id)
    document, _ = await chunks.document_text(ctx.principal, root, 1)  # readable by the caller, or 404
    llm_args = dict(body.llm_args or {})
    if body.json_schema:
        llm_args["guided_json"] = body.json_schema
    payload = SummaryPayload(
        endpoint=ctx.endpoint,
        document_id=root,
        max_num_chunks=body.max_num_chunks,
        llm=body.llm,
        prompts={
            "system_prompt": body.system_prompt,
            "pre_prompt_summary": body.pre_prompt_summary,
            "prompt_summary": body.prompt_summary,
        },
        llm_args=llm_args,
        kwargs=json.dumps(body.model_dump(exclude_none=True, exclude={"document_id", "summary_id"})),
    )
    title = f"Summarizing {document.name}"
    job = await jobs.submit(
        ctx.principal, JobKind.PROCESS_DOCUMENT, title, 1, payload, document.collection_id, summary_id
    )
    return job_out(job)


@router.get("/document_summaries/{summary_id}")
async def get_document_summary(summary_id: str, caller: ChatCaller, jobs: JobsDep) -> dict[str, Any]:
    job = await jobs.get(caller, summary_id)
    result = job.result or {}
    document_id = result.get("document_id", (job.payload or {}).get("document_id"))
    if job.kind != JobKind.PROCESS_DOCUMENT or document_id is None:
        raise NotFound(f"Document summary {summary_id} not found.")
    return {
        "id": job.id,
        "document_id": to_public_id("document", document_id),
        "content": result.get("content", ""),
        "error": result.get("error", ""),
        "kwargs": result.get("kwargs", "{}"),
        "created_at": timestamp(job.created),
        "usage_stats": result.get("usage_stats"),
    }


@router.post("/collections/{collection_id}/chunks/search")
async def search_collection_chunks(
    collection_id: str, body: SearchBody, ctx: ChatContext, chunks: Chunks
) -> list[dict[str, Any]]:
    """The collection's best chunks for the query (hybrid search); `topics` limits the documents. A
    collection key searches its own collection."""
    roots = [_doc(t) for t in body.topics]
    target = keyed_collection(ctx.principal, collection_id)
    found = await chunks.search(ctx, target, body.query, roots, body.offset, body.limit)
    return [_hit_out(hit) for hit in found]


@router.get("/documents/{document_id}/chunks")
async def list_document_chunks(
    document_id: str, caller: ChatCaller, chunks: Chunks, collection_id: Annotated[str, Query()]
) -> list[dict[str, Any]]:
    """A document's chunks in one collection, in order (score 0); a collection key's own only."""
    found = await chunks.document_chunks(caller, keyed_collection(caller, collection_id), _doc(document_id))
    return [_hit_out(hit) for hit in found]


@router.get("/collections/{collection_id}/chunks/{chunk_ids}")
async def get_collection_chunks(
    collection_id: str, chunk_ids: Annotated[str, Path(max_length=4096)], caller: ChatCaller, chunks: Chunks
) -> list[dict[str, Any]]:
    """`get_chunks`: chunks of the collection by the ids `search_chunks` answers (comma-separated)."""
    try:
        ids = [int(part) for part in chunk_ids.split(",") if part.strip()]
    except ValueError:
        raise InvalidRequest("chunk_ids: comma-separated integers.", param="chunk_ids") from None
    if not ids or len(ids) > 1000 or not all(0 <= i < 2**31 for i in ids):
        raise InvalidRequest("chunk_ids: 1 to 1000 chunk ids.", param="chunk_ids")
    found = await chunks.chunks_by_id(caller, keyed_collection(caller, collection_id), ids)
    return [{k: v for k, v in _hit_out(hit).items() if k not in ("topic", "score")} for hit in found]


def _hit_out(hit: ChunkHit) -> dict[str, Any]:
    return {
        "id": hit.chunk.id,
        "topic": to_public_id("document", hit.document_root),
        "name": hit.document_name,
        "text": hit.chunk.content,
        "size": len(hit.chunk.content.encode()),
        "pages": str(hit.chunk.page or ""),
        "score": hit.score,
    }
