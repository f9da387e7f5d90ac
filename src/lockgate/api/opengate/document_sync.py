"""Lockgate's additions for keeping a collection in step with a folder (what `lockgate ingest` uses):
POST /v1/collections/{collection_id}/sync (many files at once, matched by name) and
GET /v1/collections/{collection_id}/manifest (every document's name and file hash)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from pydantic import Field

from lockgate.api.deps import Caller, Context, DbId, State
from lockgate.api.disconnect import unless_client_leaves
from lockgate.api.opengate.documents import chunking_options, parse_metadata
from lockgate.api.opengate.jobs import JobOut, job_out
from lockgate.api.opengate.schemas import Wire
from lockgate.api.uploads import read_upload
from lockgate.errors import InvalidRequest
from lockgate.rag.schemas import SourceFile

router = APIRouter(prefix="/v1/collections", tags=["collections"])

MAX_SYNC_FILES = 256


class FileErrorOut(Wire):
    status: int  # the HTTP status this file alone would have got
    code: str
    message: str


class SyncedFileOut(Wire):
    name: str
    status: Literal["created", "replaced", "unchanged", "failed"]
    id: int | None = Field(description="The document's id (the new one when created or replaced).")
    chunks: int
    error: FileErrorOut | None = None
    warnings: list[str] = Field(default_factory=list)


class SyncOut(Wire):
    object: Literal["list"] = "list"
    data: list[SyncedFileOut]


class ManifestEntryOut(Wire):
    id: int
    name: str
    file_hash: str | None = Field(description="sha256 of the uploaded file, hex; null without a file.")
    chunks: int


class ManifestOut(Wire):
    object: Literal["list"] = "list"
    data: list[ManifestEntryOut]


@router.post(
    "/{collection_id}/sync",
    response_model=None,
    responses={
        200: {"model": SyncOut, "description": "Every file, synced."},
        202: {"model": JobOut, "description": "Queued as a job (async=true): poll /v1/jobs/{id}."},
    },
)
async def sync_documents(
    collection_id: DbId,
    ctx: Context,
    state: State,
    request: Request,
    response: Response,
    files: Annotated[list[UploadFile], File(description="The files; a filename gives its type.")],
    async_: Annotated[
        bool,
        Query(
            alias="async",
            description="Answer at once with a job (202) whose `files` fill in as they are synced.",
        ),
    ] = False,
    names: Annotated[
        list[str] | None, Form(description="Document names, one per file (default: filename).")
    ] = None,
    chunk_size: Annotated[int | None, Form(ge=1, le=1_000_000)] = None,
    chunk_min_size: Annotated[int, Form(ge=0)] = 0,
    chunk_overlap: Annotated[int, Form(ge=0)] = 0,
    preset_separators: Annotated[str, Form()] = "markdown",
    disable_chunking: Annotated[bool, Form()] = False,
    metadata: Annotated[str, Form()] = "",
) -> SyncOut | JobOut:
    """Each file becomes the collection's document of its name: `unchanged` when its bytes are those of
    the document already there (nothing is done), `replaced` when they differ (old chunks removed in the
    transaction that writes the new ones), `created` when the name is new, `failed` with the reason (the
    other files still go in). 404/403 for a collection you cannot write. With async=true the files are
    queued as one job (what `lockgate ingest` does) and the job is answered at once."""
    if len(files) > MAX_SYNC_FILES:
        raise InvalidRequest(f"files: at most {MAX_SYNC_FILES} per request.", param="files")
    if names is not None and len(names) != len(files):
        raise InvalidRequest("names: give one name per file, or none.", param="names")
    sources = []
    for index, file in enumerate(files):
        data = await read_upload(file, state.settings.max_upload_bytes)
        filename = file.filename or "document"
        name = names[index] if names is not None else filename
        if not name.strip() or len(name) > 255 or not name.isprintable():
            raise InvalidRequest(
                "names: each name (or filename) is 1 to 255 printable characters.", param="names"
            )
        sources.append(SourceFile(name, filename, file.content_type, data))
    options = chunking_options(
        chunk_size, chunk_min_size, chunk_overlap, None, False, preset_separators, disable_chunking
    )
    metadata_ = parse_metadata(metadata)
    if async_:
        job = await state.sync_jobs.submit(ctx, collection_id, sources, options, metadata_)
        response.status_code = 202
        return job_out(job)
    # a client that leaves cancels the files not yet written (each document is whole or absent)
    results = await unless_client_leaves(
        request, state.sync_jobs.sync_now(ctx, collection_id, sources, options, metadata_)
    )
    return SyncOut(
        data=[
            SyncedFileOut(
                name=r.name,
                status=r.outcome.value,
                id=r.document_id,
                chunks=r.chunks,
                error=None
                if r.error is None
                else FileErrorOut(status=r.error.status_code, code=r.error.code, message=r.error.message),
                warnings=r.warnings,
            )
            for r in results
        ]
    )


@router.get("/{collection_id}/manifest", response_model=ManifestOut)
async def collection_manifest(collection_id: DbId, caller: Caller, state: State) -> ManifestOut:
    """Every document of a collection you can read (404 otherwise), by name, with its file hash."""
    entries = await state.rag.manifest(caller, collection_id)
    return ManifestOut(
        data=[ManifestEntryOut(id=e.id, name=e.name, file_hash=e.file_hash, chunks=e.chunks) for e in entries]
    )
