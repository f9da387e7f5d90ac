"""A sync run as a job (POST /v1/collections/{id}/sync?async=true, what `lockgate ingest` sends) on a live
server whose own workers consume the real queue, on SQLite and PostgreSQL with the real models: the job
is answered at once, its `files` say what each file became, a failed file is named with its reason, and
the CLI exits 1 naming it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.rag.test_rag_api import GARDEN, PASTA, collection, member
from tests.rag.test_sync import _files, documents, run

WAIT_SECONDS = 240.0  # generous: two cores shared with other work; never a timing assert


def finished(client: httpx.Client, job_id: str) -> dict:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        job = client.get(f"/v1/jobs/{job_id}")
        assert job.status_code == 200, job.text
        if job.json()["status"] in ("completed", "failed", "canceled"):
            return job.json()
        assert time.monotonic() < deadline, job.text
        time.sleep(0.2)


def test_an_async_sync_answers_a_job_whose_files_say_what_each_became(local) -> None:
    alice, bob = member(local), member(local)
    target = collection(alice)
    files = _files(("one.md", PASTA), ("bad.bin", b"\0"), ("two.md", GARDEN))
    names = {"names": ["one.md", "bad.bin", "notes/two.md"]}
    answer = alice.post(f"/v1/collections/{target}/sync", params={"async": "true"}, files=files, data=names)
    assert answer.status_code == 202, answer.text
    queued = answer.json()
    assert queued["object"] == "job" and queued["kind"] == "sync_files" and queued["total"] == 3
    assert queued["status"] in ("pending", "running") and queued["collection_id"] == target
    assert bob.get(f"/v1/jobs/{queued['id']}").status_code == 404  # not his

    job = finished(alice, queued["id"])
    assert job["status"] == "failed" and job["done"] == 3  # one file failed; the others went in
    by_name = {item["name"]: item for item in job["files"]}
    assert [item["name"] for item in job["files"]] == ["one.md", "bad.bin", "notes/two.md"]
    assert by_name["one.md"]["status"] == by_name["notes/two.md"]["status"] == "created"
    assert by_name["bad.bin"]["status"] == "failed" and by_name["bad.bin"]["error"].startswith("415 ")
    assert job["errors"] == [f"bad.bin: {by_name['bad.bin']['error']}"]
    stored = documents(alice, target)
    assert set(stored) == {"one.md", "notes/two.md"}
    assert sorted(job["document_ids"]) == sorted(stored.values())

    again = alice.post(
        f"/v1/collections/{target}/sync", params={"async": "true"}, files=_files(("one.md", PASTA))
    )
    assert again.status_code == 202, again.text
    job = finished(alice, again.json()["id"])
    assert job["status"] == "completed" and job["errors"] == []
    assert job["files"] == [
        {**by_name["one.md"], "status": "unchanged", "warnings": []}
    ]  # same document, nothing done
    assert documents(alice, target) == stored


def test_an_async_sync_is_refused_before_any_job_exists(local) -> None:
    alice, bob = member(local), member(local)
    mine = collection(alice)
    refused = bob.post(
        f"/v1/collections/{mine}/sync", params={"async": "true"}, files=_files(("a.md", PASTA))
    )
    assert refused.status_code == 404, refused.text
    same_name = alice.post(
        f"/v1/collections/{mine}/sync",
        params={"async": "true"},
        files=_files(("a.md", PASTA), ("b.md", GARDEN)),
        data={"names": ["x", "x"]},
    )
    assert same_name.status_code == 422 and "names" in same_name.text
    assert bob.get("/v1/jobs").json()["data"] == [] and alice.get("/v1/jobs").json()["data"] == []


def test_ingest_names_a_failed_file_with_its_reason_and_exits_1(local, tmp_path: Path) -> None:
    alice = member(local)
    target = collection(alice)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.md").write_text(PASTA)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a PDF")

    first = run(local, alice, folder, target)
    assert first.returncode == 1, first.stderr
    assert "1 created, 0 replaced, 0 unchanged, 0 removed, 1 failed" in first.stderr, first.stderr
    assert "failed broken.pdf: 4" in first.stderr and "Traceback" not in first.stderr  # a 4xx, named
    jobs = alice.get("/v1/jobs").json()["data"]
    assert [job["kind"] for job in jobs] == ["sync_files"] and f"queued job {jobs[0]['id']}" in first.stderr
    assert set(documents(alice, target)) == {"good.md"}

    second = run(local, alice, folder, target)
    assert second.returncode == 1, second.stderr
    assert "0 created, 0 replaced, 1 unchanged, 0 removed, 1 failed" in second.stderr, second.stderr
