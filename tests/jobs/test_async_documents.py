"""POST /v1/documents?async=true answers a job at once (202), GET /v1/jobs/{id} follows it to the
document it wrote, only its owner sees or cancels it, and without async=true the route is unchanged."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.fakes.upstreams import FakeUpstream
from tests.helpers import Api
from tests.jobs.conftest import with_embedder

WAIT_SECONDS = 120.0
TEXT = b"The keeper of the Brest lighthouse counts ships every night."


@pytest.fixture
def settings(settings, embedder: FakeUpstream):
    return with_embedder(settings, embedder, job_workers=1)


async def collection(api: Api, key: str) -> int:
    response = await api.post("/v1/collections", key=key, json={"name": "jobs"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def upload(api: Api, key: str, collection_id: int, name: str, data: bytes, **params):
    return await api.post(
        "/v1/documents",
        key=key,
        params=params,
        data={"collection_id": str(collection_id)},
        files={"file": (name, data, "text/plain")},
    )


async def finished(api: Api, key: str, job_id: str) -> dict:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        response = await api.get(f"/v1/jobs/{job_id}", key=key)
        assert response.status_code == 200, response.text
        if response.json()["status"] in {"completed", "failed", "canceled"}:
            return response.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


async def test_async_upload_answers_a_job_that_writes_the_document(api: Api) -> None:
    alice = (await api.create_member()).key
    cid = await collection(api, alice)
    response = await upload(api, alice, cid, "keeper.txt", TEXT, **{"async": "true"})
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["object"] == "job" and job["kind"] == "ingest_document" and job["total"] == 1
    assert job["status"] in {"pending", "running", "completed"}
    done = await finished(api, alice, job["id"])
    assert done["status"] == "completed" and done["errors"] == [] and done["done"] == 1
    [document_id] = done["document_ids"]
    document = await api.get(f"/v1/documents/{document_id}", key=alice)
    assert document.status_code == 200 and document.json()["name"] == "keeper.txt"
    listed = await api.get("/v1/jobs", key=alice)
    assert job["id"] in {j["id"] for j in listed.json()["data"]}

    bob = (await api.create_member()).key
    assert (await api.get(f"/v1/jobs/{job['id']}", key=bob)).status_code == 404
    assert (await api.post(f"/v1/jobs/{job['id']}/cancel", key=bob)).status_code == 404
    assert job["id"] not in {j["id"] for j in (await api.get("/v1/jobs", key=bob)).json()["data"]}
    # a finished job is answered as it is when canceled
    assert (await api.post(f"/v1/jobs/{job['id']}/cancel", key=alice)).json()["status"] == "completed"


async def test_async_upload_refuses_at_once_what_it_can_tell(api: Api) -> None:
    alice, bob = (await api.create_member()).key, (await api.create_member()).key
    theirs = await collection(api, bob)
    response = await upload(api, alice, theirs, "x.txt", TEXT, **{"async": "true"})
    assert response.status_code == 404, response.text  # no job for a collection you cannot write
    assert (await api.get("/v1/jobs", key=alice)).json()["data"] == []


async def test_a_file_that_cannot_be_read_fails_its_job_with_the_reason(api: Api) -> None:
    alice = (await api.create_member()).key
    cid = await collection(api, alice)
    response = await upload(api, alice, cid, "broken.pdf", b"%PDF-1.4 not a pdf", **{"async": "true"})
    assert response.status_code == 202, response.text
    done = await finished(api, alice, response.json()["id"])
    assert done["status"] == "failed" and done["errors"] and done["document_ids"] == []
    assert (await api.get("/v1/documents", key=alice, params={"collection_id": cid})).json()["data"] == []


async def test_without_async_the_document_is_written_in_the_request(api: Api) -> None:
    alice = (await api.create_member()).key
    cid = await collection(api, alice)
    response = await upload(api, alice, cid, "sync.txt", TEXT)
    assert response.status_code == 201 and set(response.json()) == {"id"}


async def test_unknown_job_is_404(api: Api) -> None:
    alice = (await api.create_member()).key
    assert (await api.get("/v1/jobs/no-such-job", key=alice)).status_code == 404
