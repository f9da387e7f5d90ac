"""Jobs across real processes (`lockgate serve`, `lockgate worker` on 127.0.0.1), on SQLite and
PostgreSQL, driven with the official h2ogpte client: a job answered before its work is done survives a
server restart, a worker killed with SIGKILL mid-document leaves no document behind and the job finishes
on another worker, cancel stops a running job, and two replicas on one queue never run a job twice.

The embedding upstream is a fake whose gate (`hold`) keeps a worker inside a document's embedding call
for as long as a test needs: no timing, only states."""

from __future__ import annotations

import io
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from tests import backends
from tests.fakes.upstreams import FakeUpstream
from tests.gateway.conftest import model, provider
from tests.helpers import MASTER_KEY, bearer
from tests.test_cli import LOCKGATE, _env, _free_port

WAIT_SECONDS = 240.0  # generous: two cores shared with other work; never a timing assert
EMBEDDINGS = "/v1/embeddings"


@dataclass
class Deployment:
    """One database, one queue, one embedding upstream; servers and workers started on demand."""

    directory: Path
    config: Path
    embedder: FakeUpstream
    processes: list[subprocess.Popen] = field(default_factory=list)

    def _start(self, args: list[str], name: str) -> subprocess.Popen:
        log = self.directory / f"{name}-{len(self.processes)}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [LOCKGATE, *args, "--config", str(self.config)],
                env=_env(self.directory / "data"),
                stdout=out,
                stderr=out,
            )
        process.log = log  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    def serve(self, job_workers: int) -> str:
        """A `lockgate serve` running `job_workers` jobs at once; its base URL once ready."""
        port = _free_port()
        process = self._start(["serve", "--port", str(port)], "serve")
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                if httpx.get(f"{base}/health/readiness", timeout=2).status_code == 200:
                    return base
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.log.read_text()  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, process.log.read_text()  # type: ignore[attr-defined]
            time.sleep(0.3)

    def worker(self) -> subprocess.Popen:
        return self._start(["worker"], "worker")

    def set_job_workers(self, count: int) -> None:
        settings = yaml.safe_load(self.config.read_text())
        settings["job_workers"] = count
        self.config.write_text(yaml.safe_dump(settings))

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request, tmp_path, sqlite_template, postgres) -> Iterator[Deployment]:
    if request.param == "sqlite":
        url = backends.fresh_sqlite(sqlite_template, tmp_path)
    else:
        found, reason = postgres
        if found is None:
            pytest.skip(reason)
        url = backends.fresh_postgres_sync(*found)
    with FakeUpstream("openai", "up-embed", embedding_dim=8) as embedder:
        config = tmp_path / "lockgate.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "master_key": MASTER_KEY,
                    "database_url": url,
                    "local_models": "off",
                    "log_format": "text",
                    "rag_embedding_model": "embed",
                    "models": [model("embed", "text-embeddings-inference", provider(embedder))],
                    "provider_allowed_networks": ["127.0.0.0/8"],
                    "job_lease_seconds": 3,
                    "job_workers": 1,
                }
            )
        )
        found = Deployment(tmp_path, config, embedder)
        try:
            yield found
        finally:
            embedder.hold.clear()
            found.stop_all()
    for process in found.processes:
        assert "Traceback" not in process.log.read_text(), process.log.read_text()  # type: ignore[attr-defined]


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
