"""Synchronous ingestion counts under the same per-user limit as jobs (jobs_per_user), across real
processes on SQLite and PostgreSQL: while a user's queued job runs, their synchronous POST /v1/documents
is refused with 429 and Retry-After naming the limit; while their synchronous request runs, another one
is refused and their queued job waits until it ends. The fake embedder's gate holds work in flight: no
timing, only states."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import yaml

from tests.helpers import MASTER_KEY, bearer
from tests.jobs.conftest import EMBEDDINGS, WAIT_SECONDS, Deployment


def until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def post_document(base: str, target: int, name: str, **params: str) -> httpx.Response:
    with httpx.Client(base_url=base, headers=bearer(MASTER_KEY), timeout=WAIT_SECONDS) as http:
        files = {"file": (name, f"{name}: the keeper counts ships.".encode(), "text/plain")}
        return http.post("/v1/documents", params=params, data={"collection_id": str(target)}, files=files)


def assert_refused(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert int(answer.headers["Retry-After"]) >= 1
    assert "jobs_per_user = 1" in answer.text


def test_synchronous_ingestion_counts_under_jobs_per_user(deployment: Deployment) -> None:
    settings = yaml.safe_load(deployment.config.read_text())
    deployment.config.write_text(yaml.safe_dump({**settings, "jobs_per_user": 1}))
    base = deployment.serve(job_workers=1)
    http = httpx.Client(base_url=base, headers=bearer(MASTER_KEY), timeout=WAIT_SECONDS)
    target = http.post("/v1/collections", json={"name": "limits"}).json()["id"]
    embedder = deployment.embedder

    def jobs() -> list[dict]:
        return http.get("/v1/jobs").json()["data"]

    def job(job_id: str) -> dict:
        return http.get(f"/v1/jobs/{job_id}").json()

    # A queued job runs: a synchronous ingestion by the same user is refused.
    embedder.hold.set()
    before = len(embedder.calls(EMBEDDINGS))
    queued = post_document(base, target, "queued.txt", **{"async": "true"})
    assert queued.status_code == 202, queued.text
    until(lambda: len(embedder.calls(EMBEDDINGS)) > before, "the worker embeds the queued document")
    assert_refused(post_document(base, target, "refused.txt"))
    sync_files = {"files": ("s.txt", b"Tides rise twice a day.", "text/plain")}
    assert_refused(http.post(f"/v1/collections/{target}/sync", files=sync_files))
    embedder.hold.clear()
    until(lambda: job(queued.json()["id"])["status"] == "completed", "the queued job completes")

    # A synchronous ingestion runs: it holds the user's one slot, visible as a running job.
    embedder.hold.set()
    before = len(embedder.calls(EMBEDDINGS))
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(post_document, base, target, "first.txt")
        until(lambda: len(embedder.calls(EMBEDDINGS)) > before, "the request embeds its document")
        assert [j["status"] for j in jobs() if j["kind"] == "request"] == ["running"]
        # its row is no job a client can cancel: that would free the slot, not stop the request
        hold = next(j["id"] for j in jobs() if j["kind"] == "request")
        assert http.post(f"/v1/jobs/{hold}/cancel").status_code == 409
        assert job(hold)["status"] == "running"
        assert_refused(post_document(base, target, "second.txt"))
        waiting = post_document(base, target, "waiting.txt", **{"async": "true"})  # queued, not refused
        assert waiting.status_code == 202, waiting.text
        assert job(waiting.json()["id"])["status"] == "pending"
        embedder.hold.clear()
        assert first.result().status_code == 201, first.result().text
    until(lambda: job(waiting.json()["id"])["status"] == "completed", "the waiting job runs once it may")
    assert [j for j in jobs() if j["kind"] == "request"] == []  # a request's row goes with it
    assert post_document(base, target, "later.txt").status_code == 201
    names = {d["name"] for d in http.get("/v1/documents", params={"collection_id": target}).json()["data"]}
    assert names == {"queued.txt", "first.txt", "waiting.txt", "later.txt"}
