"""/v1/documents (upload → parse → chunk → embed), their chunks, and the deprecated /v1/chunks aliases."""

from __future__ import annotations

import json
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import StringConstraints, TypeAdapter, ValidationError

from lockgate.api.deps import Caller, Context, DbId, State, page_params
from lockgate.api.disconnect import unless_client_leaves
from lockgate.api.opengate.jobs import JobOut, job_out
from lockgate.api.opengate.rag_schemas import ChunkOut, ChunksIn, CreatedChunks, DocumentOut, Metadata
from lockgate.api.opengate.schemas import CreatedId, ListOf
from lockgate.api.uploads import read_upload
from lockgate.errors import InvalidRequest
from lockgate.kit.pagination import MAX_OFFSET, Page
from lockgate.rag.chunking import ChunkingOptions
from lockgate.rag.hits import chunk_wire
from lockgate.rag.schemas import ChunkView, NewChunk

router = APIRouter(tags=["documents"])
Paging = Annotated[Page, Depends(page_params(("id", "name", "created"), "documents"))]


def _document(row: Any) -> DocumentOut:  # rag's document (rag/ is being reshaped: #20 item 1)
    return DocumentOut(
        id=row.id, name=row.name, collection_id=row.collection_id, created=row.created, chunks=row.chunks
    )


_METADATA = TypeAdapter(Metadata)


def parse_metadata(raw: str) -> dict[str, Any]:
    """The `metadata` form field: empty, or a JSON object within OpenGateLLM's limits (422 otherwise)."""
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)  # depth-limited: deep nesting is a 4xx, not a RecursionError
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"metadata: not valid JSON ({exc.msg}).", param="metadata") from exc
    if not isinstance(value, dict):
        raise InvalidRequest("metadata: must be a JSON object.", param="metadata")
    try:
        return _METADATA.validate_python(value)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", "metadata", *e["loc"])} for e in exc.errors()]
        ) from exc


# As OpenGateLLM: surrounding blanks stripped, then 1 to 255 characters (a blank name is a 422).
DocumentName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


def chunking_options(
    chunk_size: int | None,
    chunk_min_size: int,
    chunk_overlap: int,
    separators: list[str] | None,
    is_separator_regex: bool,
    preset_separators: str,
    disable_chunking: bool,
) -> ChunkingOptions:
    """The chunking form fields (sizes in characters; no chunk_size: chunks the embedder reads whole)."""
    return ChunkingOptions(
        chunk_size=chunk_size,
        chunk_min_size=chunk_min_size,
        chunk_overlap=chunk_overlap,
        separators=[s for s in separators or [] if s != ""],
        is_separator_regex=is_separator_regex,
        preset_separators=preset_separators,
        disable_chunking=disable_chunking,
    )


def warning_header(warnings: list[str]) -> str:
    """RFC 7234 Warning header values (299: a persistent warning), ASCII only."""
    return ", ".join(
        '299 lockgate "{}"'.format(w.encode("ascii", "replace").decode().replace('"', "'")) for w in warnings
    )


@router.post(
    "/v1/documents",
    status_code=201,
    response_model=None,
    responses={
        201: {"model": CreatedId, "description": "The document, written."},
        202: {"model": JobOut, "description": "Queued as a job (async=true): poll /v1/jobs/{id}."},
    },
)
async def create_document(
    ctx: Context,
    state: State,
    request: Request,
    response: Response,
    async_: Annotated[
        bool,
        Query(
            alias="async",
            description="Answer at once with a job (202) instead of the document once written (201).",
        ),
    ] = False,
    collection_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    collection: Annotated[int | None, Form(ge=1, le=2**31 - 1, deprecated=True)] = None,
    file: Annotated[UploadFile | None, File()] = None,
    name: Annotated[DocumentName | None, Form()] = None,
    chunk_size: Annotated[int | None, Form(ge=1, le=1_000_000)] = None,
    chunk_min_size: Annotated[int, Form(ge=0)] = 0,
    chunk_overlap: Annotated[int, Form(ge=0)] = 0,
    separators: Annotated[list[str] | None, Form()] = None,
    is_separator_regex: Annotated[bool, Form()] = False,
    preset_separators: Annotated[str, Form()] = "markdown",
    disable_chunking: Annotated[bool, Form()] = False,
    metadata: Annotated[str, Form()] = "",
) -> CreatedId | JobOut:
    target = collection_id or collection
    document_metadata = parse_metadata(metadata)  # checked before anything else, as OpenGateLLM does
    if target is None:
        raise InvalidRequest("collection_id: required.", param="collection_id")
    if file is None:
        if not name:
            raise InvalidRequest("name: required when no file is uploaded.", param="name")
        return CreatedId(id=await state.rag.create_document(ctx.principal, target, name))
    data = await read_upload(file, state.settings.max_upload_bytes)
    options = chunking_options(
        chunk_size,
        chunk_min_size,
        chunk_overlap,
        separators,
        is_separator_regex,
        preset_separators,
        disable_chunking,
    )
    filename = file.filename or "document"
    upload = (filename, file.content_type, data)
    if async_:
        job = await state.uploads.ingest_document(ctx, target, upload, name, options, document_metadata)
        response.status_code = 202
        return job_out(job)
    # a client that leaves mid-way cancels it all: nothing is written (async=true runs on as a job)
    result = await unless_client_leaves(
        request, state.uploads.ingest_now(ctx, target, upload, name, options, document_metadata)
    )
    if result.warnings:  # e.g. chunks longer than the embedding model reads
        response.headers["Warning"] = warning_header(result.warnings)
    assert result.document_id is not None
    return CreatedId(id=result.document_id)


@router.get("/v1/documents", response_model=ListOf[DocumentOut])
async def list_documents(
    caller: Caller,
    state: State,
    page: Paging,
    collection_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    name: Annotated[str | None, Query(max_length=255)] = None,
) -> ListOf[DocumentOut]:
    rows = await state.rag.list_documents(caller, page, collection_id, name)
    return ListOf[DocumentOut](data=[_document(r) for r in rows])


@router.get("/v1/documents/{document_id}", response_model=DocumentOut)
async def get_document(document_id: DbId, caller: Caller, state: State) -> DocumentOut:
    return _document(await state.rag.get_document(caller, document_id))


@router.delete("/v1/documents/{document_id}", status_code=204)
async def delete_document(document_id: DbId, caller: Caller, state: State) -> Response:
    await state.rag.delete_document(caller, document_id)
    return Response(status_code=204)


@router.post("/v1/documents/{document_id}/chunks", status_code=201, response_model=CreatedChunks)
async def add_chunks(document_id: DbId, body: ChunksIn, ctx: Context, state: State) -> CreatedChunks:
    chunks = [NewChunk(c.content, c.metadata) for c in body.chunks]
    ids = await state.rag.add_chunks(ctx, document_id, chunks)
    return CreatedChunks(document_id=document_id, ids=ids)


@router.get("/v1/documents/{document_id}/chunks", response_model=ListOf[ChunkOut])
@router.get("/v1/chunks/{document_id}", response_model=ListOf[ChunkOut], deprecated=True)
async def list_chunks(
    document_id: DbId,
    caller: Caller,
    state: State,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ListOf[ChunkOut]:
    rows = await state.rag.list_chunks(caller, document_id, offset, limit)
    return ListOf[ChunkOut](data=[_chunk(r) for r in rows])


def _chunk(view: ChunkView) -> ChunkOut:
    return ChunkOut(**chunk_wire(view))


@router.get("/v1/documents/{document_id}/chunks/{chunk_id}", response_model=ChunkOut)
@router.get("/v1/chunks/{document_id}/{chunk_id}", response_model=ChunkOut, deprecated=True)
async def get_chunk(document_id: DbId, chunk_id: DbId, caller: Caller, state: State) -> ChunkOut:
    return _chunk(await state.rag.get_chunk(caller, document_id, chunk_id))


@router.delete("/v1/documents/{document_id}/chunks/{chunk_id}", status_code=204)
async def delete_chunk(document_id: DbId, chunk_id: DbId, caller: Caller, state: State) -> Response:
    await state.rag.delete_chunk(caller, document_id, chunk_id)
    return Response(status_code=204)
