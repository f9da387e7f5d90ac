"""h2oGPTe jobs: GET /jobs, GET /jobs/{job_id}, POST /jobs/{job_id}/cancel, GET /jobs/pending/count and
the JobDetails shape every `*_job` route answers. The client polls a job until `overall_status` is
completed, failed or canceled, and sees `progress` (the share of its items done) move meanwhile."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from lockgate.api.deps import Caller, ChatCaller, State
from lockgate.api.h2ogpte.common import h2ogpte_router, timestamp, to_public_id
from lockgate.jobs.models import FINAL_STATUSES, Job, JobKind, JobStatus
from lockgate.jobs.service import JobService

router = h2ogpte_router("jobs")

# The client validates `kind` against its JobKind enum.
KIND_NAMES: dict[str, str] = {
    JobKind.INGEST_UPLOAD: "IngestUploadsJob",
    JobKind.DELETE_COLLECTIONS: "DeleteCollectionsJob",
    JobKind.DELETE_DOCUMENTS: "DeleteDocumentsJob",
    JobKind.REMOVE_DOCUMENTS: "DeleteDocumentsFromCollectionJob",
    JobKind.IMPORT_DOCUMENT: "ImportDocumentIntoCollectionJob",
    JobKind.PROCESS_DOCUMENT: "DocumentProcessJob",
    JobKind.DELETE_CHATS: "DeleteChatSessionsJob",
}


def jobs(state: State) -> JobService:
    return state.jobs


JobsDep = Annotated[JobService, Depends(jobs)]


def job_out(job: Job) -> dict[str, Any]:
    """JobDetails: progress as fractions of the job's items, the documents it made as statuses."""
    final = job.status in FINAL_STATUSES
    overall = job.status if final else "in progress"
    total = max(job.total, 1)
    failed = len(job.errors or []) or (1 if job.status == JobStatus.FAILED else 0)
    seconds = max(0, (job.updated or job.created) - job.created)
    return {
        "id": job.id,
        "name": job.name,
        "overall_status": overall,
        "status": job.status,
        "passed_percentage": max(min(job.done, total) - failed, 0) / total,  # done counts failed items too
        "failed_percentage": min(failed / total, 1.0),
        "progress": 1.0 if final else job.done / total,
        "created_at": timestamp(job.created),
        "updated_at": timestamp(job.updated or job.created),
        "kind": KIND_NAMES.get(job.kind, "NoOpJob"),
        "statuses": [
            {"id": to_public_id("document", d), "status": "completed"}
            for d in (job.result or {}).get("document_ids", [])
        ],
        "errors": list(job.errors or []),
        "duration": f"{seconds}s",
        "duration_seconds": seconds,
        "start_time": job.created,
        "canceled_by": None,
        "cancel_reason": "canceled by its owner" if job.status == JobStatus.CANCELED else None,
        "files_total": job.total,
        "files_failed": failed,
    }


@router.get("/jobs")
async def list_jobs(caller: Caller, service: JobsDep) -> list[dict[str, Any]]:
    return [job_out(j) for j in await service.list(caller)]


@router.get("/jobs/pending/count")
async def count_pending_jobs(caller: Caller, service: JobsDep) -> dict[str, int]:
    """The caller's jobs not finished yet (queued or running)."""
    return {"count": await service.pending_count(caller)}


@router.post("/jobs/{job_id}/cancel")
async def cancel_job(job_id: str, caller: ChatCaller, service: JobsDep) -> dict[str, Any]:
    """Cancel a job: queued, it never runs; running, it stops before its next document. A finished
    job is answered as it is."""
    return job_out(await service.cancel(caller, job_id))


@router.get("/jobs/{job_id}")
async def get_job(job_id: str, caller: ChatCaller, service: JobsDep) -> dict[str, Any]:
    """Also for a collection key: the jobs of its collection."""
    return job_out(await service.get(caller, job_id))
