"""h2oGPTe two-step ingestion: PUT /uploads, then POST /uploads/{upload_ids}/ingest[/job] into a
collection; and POST /ingest/plain_text[/job], a text sent as the body, ingested the same way. The
ingestion is a job on the queue (api/h2ogpte/jobs.py): /job answers it at once, the plain route waits
for it to finish."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Body, Depends, File, Query, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict

from lockgate.accounting.service import CallContext
from lockgate.api.deps import Context, State
from lockgate.api.h2ogpte.common import from_public_id, h2ogpte_router, to_public_id
from lockgate.api.h2ogpte.jobs import JobsDep, job_out
from lockgate.api.h2ogpte.library_views import UploadsDep, collection_id
from lockgate.api.uploads import read_upload
from lockgate.errors import InvalidRequest
from lockgate.jobs.models import Job
from lockgate.rag.uploads import IngestOptions

router = h2ogpte_router("uploads")


class IngestBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    metadata: dict[str, Any] | None = None


Ingest = tuple[CallContext, list[int], int, IngestOptions]


async def ingest_params(
    upload_ids: str,
    ctx: Context,
    collection_id_: Annotated[str, Query(alias="collection_id")],
    gen_doc_summaries: bool | None = None,
    gen_doc_questions: bool | None = None,
    audio_input_language: str | None = None,
    ocr_model: str | None = None,
    tesseract_lang: str | None = None,
    keep_tables_as_one_chunk: bool | None = None,
    chunk_by_page: bool | None = None,
    handwriting_check: bool | None = None,
    ingest_mode: str | None = None,
    body: Annotated[IngestBody | None, Body()] = None,
) -> Ingest:
    ids = [from_public_id("upload", u) for u in upload_ids.split(",") if u]
    options = IngestOptions(
        gen_doc_summaries=gen_doc_summaries,
        gen_doc_questions=gen_doc_questions,
        chunk_by_page=chunk_by_page,
        keep_tables_as_one_chunk=keep_tables_as_one_chunk,
        metadata=body.metadata if body else None,
    )
    return ctx, ids, collection_id(collection_id_), options


@router.put("/uploads")
async def upload_file(
    ctx: Context, state: State, uploads: UploadsDep, file: Annotated[UploadFile, File()]
) -> dict[str, str]:
    data = await read_upload(file, state.settings.max_upload_bytes)
    name = file.filename or "document"
    upload_id = await uploads.save(ctx.principal, name, file.content_type, data)
    return {"id": to_public_id("upload", upload_id), "filename": name}


@router.post("/uploads/{upload_ids}/ingest", status_code=204)
async def ingest_upload(
    options: Annotated[Ingest, Depends(ingest_params)], uploads: UploadsDep, jobs: JobsDep
) -> Response:
    """Answered once the job is done; its first error, if any, is this request's."""
    job = await jobs.wait(options[0].principal, (await uploads.ingest(*options)).id)
    if job.errors:
        raise InvalidRequest(job.errors[0], param="upload_ids")
    return Response(status_code=204)


@router.post("/uploads/{upload_ids}/ingest/job", status_code=201)
async def ingest_upload_job(
    options: Annotated[Ingest, Depends(ingest_params)], uploads: UploadsDep
) -> dict[str, Any]:
    """The same ingestion as a job, answered pending at once; a failure is reported in the job."""
    return job_out(await uploads.ingest(*options))


async def plain_text_params(
    request: Request,
    ctx: Context,
    uploads: UploadsDep,
    collection_id_: Annotated[str, Query(alias="collection_id")],
    file_name: Annotated[str, Query(min_length=1, max_length=255)],
    metadata: Annotated[str | None, Query(max_length=65536)] = None,
    gen_doc_summaries: bool | None = None,
    gen_doc_questions: bool | None = None,
) -> Ingest:
    """The text (the request body, bounded like any body) kept as an upload of the caller, to be
    ingested as the document `file_name`; `metadata` is a JSON object as text."""
    found: Any = None
    if metadata:
        try:
            found = orjson.loads(metadata)  # depth-limited: deep nesting is a 4xx, not a RecursionError
        except ValueError:
            raise InvalidRequest("metadata: not valid JSON.", param="metadata") from None
        if not isinstance(found, dict):
            raise InvalidRequest("metadata: must be a JSON object.", param="metadata")
    text = await request.body()
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("body: the text must be UTF-8.", param="body") from None
    target = collection_id(collection_id_)
    upload_id = await uploads.save(ctx.principal, file_name, "text/plain", text)
    options = IngestOptions(
        gen_doc_summaries=gen_doc_summaries, gen_doc_questions=gen_doc_questions, metadata=found
    )
    return ctx, [upload_id], target, options


async def _ingest_text(options: Ingest, uploads: UploadsDep) -> Job:
    """Queue the text's ingestion; refused (another user's collection…), its upload is forgotten."""
    ctx, upload_ids = options[0], options[1]
    try:
        return await uploads.ingest(*options)
    except Exception:
        await uploads.forget(ctx.principal, upload_ids[0])
        raise


@router.post("/ingest/plain_text/job", status_code=201)
async def ingest_plain_text_job(
    options: Annotated[Ingest, Depends(plain_text_params)], uploads: UploadsDep
) -> dict[str, Any]:
    """`ingest_from_plain_text`: the text as one document of the collection, as a job."""
    return job_out(await _ingest_text(options, uploads))


@router.post("/ingest/plain_text", status_code=204)
async def ingest_plain_text(
    options: Annotated[Ingest, Depends(plain_text_params)], uploads: UploadsDep, jobs: JobsDep
) -> Response:
    """The same, answered once the document is written."""
    job = await jobs.wait(options[0].principal, (await _ingest_text(options, uploads)).id)
    if job.errors:
        raise InvalidRequest(job.errors[0], param="body")
    return Response(status_code=204)
