"""h2oGPTe two-step ingestion: PUT /uploads, then POST /uploads/{upload_ids}/ingest[/job] into a
collection. The ingestion is a job on the queue (api/h2ogpte/jobs.py): /job answers it at once, the
plain route waits for it to finish."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, File, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict

from lockgate.accounting.service import CallContext
from lockgate.api.deps import Context, State
from lockgate.api.h2ogpte.common import from_public_id, h2ogpte_router, to_public_id
from lockgate.api.h2ogpte.jobs import JobsDep, job_out
from lockgate.api.h2ogpte.library_views import UploadsDep, collection_id
from lockgate.api.uploads import read_upload
from lockgate.errors import InvalidRequest
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
