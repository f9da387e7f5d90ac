"""Jobs across real processes (`lockgate serve`, `lockgate worker` on 127.0.0.1), on SQLite and
PostgreSQL, driven with the official h2ogpte client: a job answered before its work is done survives a
server restart, a worker killed with SIGKILL mid-document leaves no document behind and the job finishes
on another worker, cancel stops a running job, and two replicas on one queue never run a job twice.

The embedding upstream is a fake whose gate (`hold`) keeps a worker inside a document's embedding call
for as long as a test needs: no timing, only states."""

from __future__ import annotations

import io
import time

import httpx
import yaml

from tests.fakes.upstreams import FakeUpstream
from tests.helpers import MASTER_KEY, bearer
from tests.jobs.conftest import EMBEDDINGS, WAIT_SECONDS, Deployment


def sdk(base: str):
    from h2ogpte import H2OGPTE

    return H2OGPTE(address=base, api_key=MASTER_KEY, strict_version_check=True)


def submit_ingest(base: str, collection_id: str, upload_ids: list[str]):
    """POST /uploads/{ids}/ingest/job with the official REST client: the JobDetails it answers."""
    import h2ogpte.rest_sync as rest

    configuration = rest.Configuration(host=f"{base}/api/v1", access_token=MASTER_KEY)
    with rest.ApiClient(configuration) as client:
        return rest.DocumentIngestionApi(client).create_ingest_upload_job(upload_ids, collection_id)


def uploads(client, *names: str) -> list[str]:
    return [client.upload(name, io.BytesIO(f"{name}: the keeper counts ships.".encode())) for name in names]


def until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def finished(client, job_id: str):
    """The job as the official client sees it once done, polled with the client's own loop."""
    return client._wait_for_completion(job_id, timeout=WAIT_SECONDS)


def embedding_started(embedder: FakeUpstream, before: int) -> bool:
    return len(embedder.calls(EMBEDDINGS)) > before


def documents(client, collection_id: str) -> list[str]:
    return sorted(d.name for d in client.list_documents_in_collection(collection_id, offset=0, limit=99))


def test_a_queued_job_survives_a_server_restart(deployment: Deployment) -> None:
    base = deployment.serve(job_workers=1)
    client = sdk(base)
    collection_id = client.create_collection(name="restart", description="")
    deployment.embedder.hold.set()
    before = len(deployment.embedder.calls(EMBEDDINGS))
    job = submit_ingest(base, collection_id, uploads(client, "a.txt", "b.txt"))
    assert job.overall_status == "in progress" and job.kind == "IngestUploadsJob"  # answered at once
    until(lambda: embedding_started(deployment.embedder, before), "the worker embeds the first file")
    assert client.get_job(job.id).progress < 1

    deployment.stop_all()  # a graceful stop gives the job back to the queue
    deployment.embedder.hold.clear()
    client = sdk(deployment.serve(job_workers=1))
    done = finished(client, job.id)
    assert done.completed and not done.canceled and done.errors == [] and done.progress == 1
    assert documents(client, collection_id) == ["a.txt", "b.txt"]


def test_a_worker_killed_mid_document_leaves_nothing_half_and_the_job_finishes(
    deployment: Deployment,
) -> None:
    deployment.set_job_workers(0)  # the server only answers; `lockgate worker` pools do the work
    base = deployment.serve(job_workers=0)
    client = sdk(base)
    collection_id = client.create_collection(name="kill", description="")
    deployment.embedder.hold.set()
    before = len(deployment.embedder.calls(EMBEDDINGS))
    job = submit_ingest(base, collection_id, uploads(client, "one.txt", "two.txt"))
    first = deployment.worker()
    until(lambda: embedding_started(deployment.embedder, before), "the worker is inside a document")
    first.kill()  # SIGKILL: no cleanup of any kind
    first.wait(timeout=60)
    assert documents(client, collection_id) == []  # the document it was writing is not there, even half
    assert client.get_job(job.id).completed is False

    deployment.embedder.hold.clear()
    deployment.worker()
    done = finished(client, job.id)  # once its lease runs out, the job goes to the new worker
    assert done.completed and done.errors == [] and done.progress == 1
    assert documents(client, collection_id) == ["one.txt", "two.txt"]  # each exactly once


def test_cancel_stops_a_running_job_before_its_next_document(deployment: Deployment) -> None:
    base = deployment.serve(job_workers=1)
    client = sdk(base)
    collection_id = client.create_collection(name="cancel", description="")
    deployment.embedder.hold.set()
    before = len(deployment.embedder.calls(EMBEDDINGS))
    job = submit_ingest(base, collection_id, uploads(client, "x.txt", "y.txt"))
    until(lambda: embedding_started(deployment.embedder, before), "the job is running")
    client.cancel_job(job.id)
    canceled = client.get_job(job.id)
    assert canceled.canceled and not canceled.completed
    deployment.embedder.hold.clear()
    # One job at a time on this server: the next one runs once the canceled one has let go.
    after = client.ingest_uploads(collection_id, uploads(client, "z.txt"), timeout=WAIT_SECONDS)
    assert after.completed and after.errors == []
    assert documents(client, collection_id) == ["z.txt"]
    assert client.get_job(job.id).canceled


def test_two_replicas_share_one_queue_and_never_run_a_job_twice(
    deployment: Deployment, redis_url: str
) -> None:
    settings = yaml.safe_load(deployment.config.read_text())
    settings.update(redis_url=redis_url, job_workers=2)  # the scale-out queue: Redis, shared
    deployment.config.write_text(yaml.safe_dump(settings))
    bases = [deployment.serve(job_workers=2), deployment.serve(job_workers=2)]
    clients = [sdk(base) for base in bases]
    collection_id = clients[0].create_collection(name="replicas", description="")
    names = [f"file-{n}.txt" for n in range(8)]
    jobs = [
        submit_ingest(bases[n % 2], collection_id, uploads(clients[n % 2], name)).id
        for n, name in enumerate(names)
    ]
    for n, job_id in enumerate(jobs):
        done = finished(clients[(n + 1) % 2], job_id)  # either replica answers for every job
        assert done.completed and done.errors == [], done
    assert documents(clients[0], collection_id) == sorted(names)
    with httpx.Client(base_url=bases[1], headers=bearer(MASTER_KEY), timeout=60) as http:
        listed = http.get("/v1/jobs", params={"limit": 100}).json()["data"]
    assert sorted(j["id"] for j in listed if j["id"] in jobs) == sorted(jobs)
    assert all(j["status"] == "completed" and j["done"] == 1 for j in listed if j["id"] in jobs)
