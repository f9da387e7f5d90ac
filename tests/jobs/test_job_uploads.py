"""A job's stored files (rows of the uploads table) go when the job ends, however it ends, on SQLite and
PostgreSQL: canceled pending or running, failed with any error, given up after job_max_attempts, its
key, collection or user deleted; a job retried after its worker died keeps them and completes; a sweep
drops what a crash left behind, never an upload no job holds yet."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time

import pytest
from sqlalchemy import func, select

from lockgate.accounting.service import CallContext
from lockgate.identity.schemas import Principal
from lockgate.job_work import job_work
from lockgate.jobs import repository
from lockgate.jobs.models import Job, JobKind, JobStatus
from lockgate.jobs.worker import JobRun, JobWorker, Work
from lockgate.kit.clock import now_ts
from lockgate.migrate import upgrade
from lockgate.rag.models import Upload
from lockgate.rag.uploads import IngestOptions
from tests.fakes.upstreams import FakeUpstream
from tests.helpers import Api
from tests.jobs.conftest import with_embedder
from tests.rag.test_sync import _files

WAIT_SECONDS = 120.0  # generous: two cores shared with other work; never a timing assert
TEXT = b"The keeper of the Brest lighthouse counts ships every night."


@pytest.fixture
def settings(settings, embedder: FakeUpstream):
    # No worker inside the app: each test starts the worker it needs, with the work it needs.
    return with_embedder(settings, embedder, job_workers=0)


def worker(api: Api, replaced: dict[str, Work] | None = None, **options) -> JobWorker:
    state = api.state
    work = job_work(
        state.uploads, state.sync_jobs, state.library, state.conversations, state.chunk_reads, state.content
    )
    options = {"slots": 2, "lease_seconds": 30.0, "max_attempts": 3, "per_user": 10, **options}
    return JobWorker(
        state.db,
        state.jobs,
        {**work, **(replaced or {})},
        state.authenticator.principal_for_key,
        **options,
    )


async def stored_uploads(api: Api) -> int:
    async with api.state.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Upload)) or 0)


async def job_row(api: Api, job_id: str) -> Job | None:
    async with api.state.db.transaction() as session:
        return await session.get(Job, job_id)


async def until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not await predicate():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def ended(api: Api, job_id: str) -> Job:
    async def final() -> bool:
        job = await job_row(api, job_id)
        return job is not None and job.status in {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED}

    async def released() -> bool:  # a job's files go in their own transaction, just after its status
        async with api.state.db.transaction() as session:
            held = select(func.count()).select_from(Upload).where(Upload.job_id == job_id)
            return not await session.scalar(held)

    await until(final, f"job {job_id} never ended")
    await until(released, f"job {job_id} ended but kept its uploads")
    job = await job_row(api, job_id)
    assert job is not None
    return job


async def member(api: Api) -> tuple[str, Principal, int]:
    """A member's key, principal and a collection of theirs."""
    key = (await api.create_member()).key
    response = await api.post("/v1/collections", key=key, json={"name": "jobs"})
    assert response.status_code == 201, response.text
    return key, await api.state.authenticator.authenticate(key), response.json()["id"]


async def sync_job(api: Api, key: str, cid: int) -> str:
    """An asynchronous sync of two files (what `lockgate ingest` sends): its job id."""
    files = _files(("one.md", TEXT), ("two.md", TEXT + b" Two."))
    response = await api.post(f"/v1/collections/{cid}/sync", key=key, params={"async": "true"}, files=files)
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def document_job(api: Api, key: str, cid: int) -> str:
    """POST /v1/documents?async=true: its job id."""
    response = await api.post(
        "/v1/documents",
        key=key,
        params={"async": "true"},
        data={"collection_id": str(cid)},
        files={"file": ("keeper.txt", TEXT, "text/plain")},
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def upload_job(api: Api, principal: Principal, cid: int) -> str:
    """h2oGPTe's two steps: upload, then ingest as a job; its job id."""
    upload_id = await api.state.uploads.save(principal, "upload.txt", "text/plain", TEXT)
    job = await api.state.uploads.ingest(CallContext(principal, "/test"), [upload_id], cid, IngestOptions())
    return job.id


async def every_kind(api: Api, key: str, principal: Principal, cid: int) -> list[str]:
    return [
        await sync_job(api, key, cid),
        await document_job(api, key, cid),
        await upload_job(api, principal, cid),
    ]


async def test_a_canceled_pending_job_drops_its_uploads(api: Api) -> None:
    key, principal, cid = await member(api)
    jobs = await every_kind(api, key, principal, cid)
    assert await stored_uploads(api) == 4
    for job_id in jobs:
        canceled = await api.post(f"/v1/jobs/{job_id}/cancel", key=key)
        assert canceled.status_code == 200 and canceled.json()["status"] == "canceled", canceled.text
    assert await stored_uploads(api) == 0


async def test_a_canceled_running_job_drops_its_uploads(api: Api, embedder: FakeUpstream) -> None:
    key, _, cid = await member(api)
    job_id = await sync_job(api, key, cid)
    embedder.hold.set()  # the job waits inside its first step, on the embedding call
    before = len(embedder.requests)
    running = worker(api, lease_seconds=1.0)
    await running.start()
    try:
        await until(lambda: _embedding_called(embedder, before), "the job never reached its embedding call")
        canceled = await api.post(f"/v1/jobs/{job_id}/cancel", key=key)
        assert canceled.json()["status"] == "canceled", canceled.text
        # the lease renewal sees the job is not held any more and cancels its task (CancelledError)
        await until(lambda: _idle(running), "the canceled job went on running")
    finally:
        embedder.hold.clear()
        await running.stop()
    assert await stored_uploads(api) == 0
    after = await job_row(api, job_id)
    assert after is not None and after.status == JobStatus.CANCELED and after.done == 0


async def test_a_job_failing_with_an_unexpected_error_drops_its_uploads(api: Api) -> None:
    key, principal, cid = await member(api)
    jobs = await every_kind(api, key, principal, cid)

    async def broken(run: JobRun) -> None:
        raise RuntimeError("a bug, not an AppError")

    kinds = (JobKind.SYNC_FILES, JobKind.INGEST_DOCUMENT, JobKind.INGEST_UPLOAD)
    running = worker(api, dict.fromkeys(kinds, broken))
    await running.start()
    try:
        done = [await ended(api, job_id) for job_id in jobs]
    finally:
        await running.stop()
    assert [job.status for job in done] == [JobStatus.FAILED] * 3
    assert all(job.errors[-1].endswith("internal error.") for job in done)
    assert await stored_uploads(api) == 0


async def test_a_job_given_up_after_job_max_attempts_drops_its_uploads(api: Api) -> None:
    key, principal, cid = await member(api)
    jobs = await every_kind(api, key, principal, cid)
    long_ago = now_ts() - 3600
    async with api.state.db.transaction() as session:  # each claimed by a worker that then died
        for job_id in jobs:
            assert await repository.claim(session, job_id, "dead-worker", long_ago, 10)
    running = worker(api, lease_seconds=1.0, max_attempts=1)
    await running.start()  # its first sweep gives them up
    try:
        done = [await ended(api, job_id) for job_id in jobs]
    finally:
        await running.stop()
    assert [job.status for job in done] == [JobStatus.FAILED] * 3
    assert all("given up" in job.errors[-1] for job in done)
    assert await stored_uploads(api) == 0


async def test_a_job_retried_after_its_worker_died_keeps_its_files_and_completes(api: Api) -> None:
    key, principal, cid = await member(api)
    jobs = await every_kind(api, key, principal, cid)
    long_ago = now_ts() - 3600
    async with api.state.db.transaction() as session:
        for job_id in jobs:
            assert await repository.claim(session, job_id, "dead-worker", long_ago, 10)
    running = worker(api, lease_seconds=1.0, max_attempts=3)
    await running.start()  # sweeps (leftovers too), hands the jobs over, runs them
    try:
        done = [await ended(api, job_id) for job_id in jobs]
    finally:
        await running.stop()
    assert [(job.status, job.attempts, job.errors) for job in done] == [(JobStatus.COMPLETED, 2, [])] * 3
    assert [len(job.result["document_ids"]) for job in done] == [2, 1, 1]
    listed = await api.get("/v1/documents", key=key, params={"collection_id": cid, "limit": 100})
    assert sorted(d["name"] for d in listed.json()["data"]) == [
        "keeper.txt",
        "one.md",
        "two.md",
        "upload.txt",
    ]
    assert await stored_uploads(api) == 0


async def test_a_job_whose_key_or_collection_was_deleted_drops_its_uploads(api: Api) -> None:
    key, principal, cid = await member(api)
    other_key, other, other_cid = await member(api)
    keyless = await every_kind(api, key, principal, cid)
    homeless = await every_kind(api, other_key, other, other_cid)
    assert (await api.delete(f"/v1/admin/tokens/{principal.key_id}")).status_code == 204
    assert (await api.delete(f"/v1/collections/{other_cid}", key=other_key)).status_code == 204
    running = worker(api)
    await running.start()
    try:
        done = [await ended(api, job_id) for job_id in keyless + homeless]
    finally:
        await running.stop()
    assert [job.status for job in done] == [JobStatus.FAILED] * 6
    assert await stored_uploads(api) == 0


async def test_a_deleted_users_pending_jobs_and_uploads_go_with_them(api: Api) -> None:
    created = await api.create_member()
    principal = await api.state.authenticator.authenticate(created.key)
    response = await api.post("/v1/collections", key=created.key, json={"name": "jobs"})
    jobs = await every_kind(api, created.key, principal, response.json()["id"])
    assert (await api.delete(f"/v1/admin/users/{created.id}")).status_code == 204
    assert [await job_row(api, job_id) for job_id in jobs] == [None] * 3
    assert await stored_uploads(api) == 0


async def test_the_sweep_drops_what_a_crash_left_and_keeps_uploads_no_job_holds(api: Api) -> None:
    """The process died between a job's end and the release of its files: a starting worker drops
    them. An h2oGPTe upload not yet handed to a job, and a pending job's files, stay."""
    key, principal, cid = await member(api)
    crashed, pending = await sync_job(api, key, cid), await sync_job(api, key, cid)
    loose = await api.state.uploads.save(principal, "later.txt", "text/plain", TEXT)
    async with api.state.db.transaction() as session:  # canceled, released never
        assert await repository.cancel(session, crashed, now_ts())
    async with api.state.db.transaction() as session:
        assert await repository.claim(session, pending, "busy-worker", now_ts(), 10)  # alive elsewhere
    assert await stored_uploads(api) == 5
    running = worker(api, lease_seconds=3600.0)
    await running.start()
    await running.stop()
    async with api.state.db.transaction() as session:
        left = set((await session.scalars(select(Upload.job_id))).all())
    assert left == {None, pending} and await stored_uploads(api) == 3
    assert loose in await api.state.uploads.pending(principal)


async def test_an_upload_held_by_a_job_cannot_be_handed_to_another(api: Api) -> None:
    _, principal, cid = await member(api)
    upload_id = await api.state.uploads.save(principal, "keeper.txt", "text/plain", TEXT)
    ctx = CallContext(principal, "/test")
    first = await api.state.uploads.ingest(ctx, [upload_id], cid, IngestOptions())
    with pytest.raises(Exception, match="already being ingested") as refused:
        await api.state.uploads.ingest(ctx, [upload_id], cid, IngestOptions())
    assert getattr(refused.value, "status_code", None) == 409
    assert [job.id for job in await api.state.jobs.list(principal)] == [first.id]


async def _embedding_called(embedder: FakeUpstream, before: int) -> bool:
    return any(call.path.endswith("/embeddings") for call in list(embedder.requests)[before:])


async def _idle(running: JobWorker) -> bool:
    return not running._running


def test_the_upgrade_hands_each_ingestion_job_its_uploads(tmp_path) -> None:
    """Migration 0018 on a database where uploads have no job yet: a live job keeps its files, the
    files an ended job left behind (before this fix) become leftovers for the sweep, a loose upload
    stays loose."""
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0017")
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO roles (id, name, created, updated) VALUES (1, 'r', 0, 0)")
        conn.execute(
            "INSERT INTO users (id, email, role_id, priority, is_master, created, updated)"
            " VALUES (1, 'a@example.org', 1, 0, 0, 0, 0)"
        )
        for job_id, status, ids in (("ended", "failed", [1, 2]), ("live", "pending", [2, 3])):
            conn.execute(
                "INSERT INTO jobs (id, owner_id, kind, name, status, done, total, errors, result,"
                " payload, attempts, created, updated)"
                " VALUES (?, 1, 'sync_files', 'x', ?, 0, 2, '[]', '{}', ?, 0, 0, 0)",
                (job_id, status, json.dumps({"upload_ids": ids})),
            )
        for upload_id in (1, 2, 3, 4):
            conn.execute(
                "INSERT INTO uploads (id, owner_id, name, data, created) VALUES (?, 1, 'f', x'00', 0)",
                (upload_id,),
            )
    upgrade(url, "head")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        held = dict(conn.execute("SELECT id, job_id FROM uploads").fetchall())
    assert held == {1: "ended", 2: "live", 3: "live", 4: None}
