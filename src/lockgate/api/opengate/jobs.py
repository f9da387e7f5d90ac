"""/v1/jobs: background work on the /v1 surface (Lockgate's addition to OpenGateLLM 0.4, which has no
jobs): what POST /v1/documents?async=true and POST /v1/collections/{id}/sync?async=true answer, read
back until finished, and canceled."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from lockgate.api.deps import Caller, State
from lockgate.api.opengate.schemas import ListOf, Wire
from lockgate.jobs.models import Job
from lockgate.jobs.service import JobService

router = APIRouter(tags=["jobs"])

JobState = Literal["pending", "running", "completed", "failed", "canceled"]


class JobFileOut(Wire):
    """One file of a sync job (POST /v1/collections/{id}/sync?async=true), once its step is done."""

    name: str
    status: Literal["created", "replaced", "unchanged", "failed"]
    id: int | None = Field(description="The document's id (the new one when created or replaced).")
    chunks: int
    error: str | None = Field(description='Why it failed: "<HTTP status> <message>".')
    warnings: list[str]


class JobOut(Wire):
    """A job: `done` of `total` items (documents) processed, the documents written so far, and why any
    item failed. Poll until `status` is completed, failed or canceled."""

    object: Literal["job"] = "job"
    id: str
    kind: str
    name: str
    status: JobState
    done: int
    total: int
    errors: list[str]
    document_ids: list[int]
    files: list[JobFileOut] = Field(
        description="A sync job's files done so far, in order, with what each became; [] for other jobs."
    )
    collection_id: int | None
    created: int
    updated: int


def job_out(job: Job) -> JobOut:
    return JobOut(
        id=job.id,
        kind=job.kind,
        name=job.name,
        status=job.status,
        done=job.done,
        total=job.total,
        errors=list(job.errors or []),
        document_ids=list((job.result or {}).get("document_ids", [])),
        files=[JobFileOut.model_validate(f) for f in (job.result or {}).get("files", [])],
        collection_id=job.collection_id,
        created=job.created,
        updated=job.updated or job.created,
    )


def _jobs(state: State) -> JobService:
    return state.jobs


Jobs = Annotated[JobService, Depends(_jobs)]


@router.get("/v1/jobs", response_model=ListOf[JobOut])
async def list_jobs(
    caller: Caller, jobs: Jobs, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> ListOf[JobOut]:
    """The caller's jobs, newest first."""
    return ListOf[JobOut](data=[job_out(j) for j in await jobs.list(caller, limit)])


@router.get("/v1/jobs/{job_id}", response_model=JobOut)
async def get_job(job_id: str, caller: Caller, jobs: Jobs) -> JobOut:
    return job_out(await jobs.get(caller, job_id))


@router.post("/v1/jobs/{job_id}/cancel", response_model=JobOut)
async def cancel_job(job_id: str, caller: Caller, jobs: Jobs) -> JobOut:
    """Queued, the job never runs; running, it stops before its next document (the one in flight is
    rolled back). A finished job is answered as it is."""
    return job_out(await jobs.cancel(caller, job_id))
