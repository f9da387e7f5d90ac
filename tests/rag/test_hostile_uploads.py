"""Hostile uploads on a live server (SQLite and PostgreSQL): a file whose reading needs more memory or CPU
time than a parse worker has is a 422 naming the file and the limit (in a sync, that file alone fails),
with /health answering throughout and the next upload served; a client that leaves a synchronous upload
cancels it (its parse worker stopped, nothing written)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.live import local_models_server
from tests.rag.test_rag_api import collection, member, upload

MEMORY_MB = 600
# A client's separator that backtracks exponentially on a run of 'a's with no 'a' at its end: reading
# the file never ends (2^40 steps) and uses no memory.
BACKTRACKING = {"chunk_size": "10", "separators": "(a+)+$", "is_separator_regex": "true"}
ENDLESS_TEXT = b"a" * 40 + b"b"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def local(request, tmp_path_factory, sqlite_template, postgres):
    directory = tmp_path_factory.mktemp("hostile")
    with local_models_server(
        request.param,
        directory,
        sqlite_template,
        postgres,
        parse_cpu_seconds=3600,  # so that only the client leaving can stop the endless read
        parse_memory_mb=MEMORY_MB,
    ) as live:
        yield live


def _stored(live, collection_id: int) -> tuple[int, int]:
    """(documents, chunks) of the collection, read in the database itself."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def count() -> tuple[int, int]:
        engine = create_async_engine(live.database_url)
        try:
            async with engine.connect() as conn:
                documents = await conn.scalar(
                    text("SELECT count(*) FROM documents WHERE collection_id = :c"), {"c": collection_id}
                )
                chunks = await conn.scalar(
                    text("SELECT count(*) FROM chunks WHERE collection_id = :c"), {"c": collection_id}
                )
                return int(documents or 0), int(chunks or 0)
        finally:
            await engine.dispose()

    return asyncio.run(count())


class HealthWatch:
    """Polls /health in a thread while a test runs; `statuses` is every answer (an exception: 0)."""

    def __init__(self, url: str):
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)

    def _run(self, url: str) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            while not self._stop.is_set():
                try:
                    self.statuses.append(client.get("/health").status_code)
                except httpx.HTTPError:
                    self.statuses.append(0)
                self._stop.wait(0.2)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=120)


def _hungry_json() -> bytes:
    """22 MB of JSON that Python holds as millions of objects (well over a GB), then writes out indented."""
    return json.dumps([{"n": n, "s": "x"} for n in range(900_000)]).encode()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def strict(request, tmp_path_factory, sqlite_template, postgres):
    """A server whose parse workers get 2 s of CPU time per file."""
    directory = tmp_path_factory.mktemp("strict")
    with local_models_server(
        request.param, directory, sqlite_template, postgres, parse_cpu_seconds=2
    ) as live:
        yield live


def test_a_file_past_the_memory_limit_is_422_and_the_server_stays_up(local) -> None:
    alice = member(local)
    target = collection(alice)
    data = _hungry_json()
    with HealthWatch(local.url) as health:
        files = {"file": ("big.json", io.BytesIO(data), "application/json")}
        refused = alice.post("/v1/documents", data={"collection_id": str(target)}, files=files)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]  # OpenGateLLM's 422 shape, naming the field
    assert error["loc"] == ["body", "file"] and error["type"] == "parse_limit_exceeded"
    detail = error["msg"]
    assert "'big.json'" in detail and f"{MEMORY_MB} MiB" in detail and "parse_memory_mb" in detail
    assert health.statuses and set(health.statuses) == {200}
    assert _stored(local, target) == (0, 0)
    # the next file goes through the same pool (HTML is read by a worker): served
    page = "<h1>Notes</h1><p>Tomatoes want water twice a week.</p>"
    served = upload(alice, target, page, filename="notes.html")
    assert served.status_code == 201, served.text
    assert _stored(local, target)[0] == 1


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("deep.json", b"[" * 100_000 + b"]" * 100_000),
        ("deep.html", b"<div>" * 100_000 + b"deep" + b"</div>" * 100_000),
    ],
)
def test_a_file_nested_too_deeply_is_400_naming_the_file(local, filename, data) -> None:
    alice = member(local)
    target = collection(alice)
    refused = alice.post(
        "/v1/documents", data={"collection_id": str(target)}, files={"file": (filename, io.BytesIO(data))}
    )
    assert refused.status_code == 400, refused.text  # was a bare 500 (RecursionError)
    assert "file" in refused.json()["detail"] and "nested" in refused.json()["detail"]
    assert _stored(local, target) == (0, 0)
    assert upload(alice, target, "Tomatoes want water.").status_code == 201


def test_a_sync_fails_only_the_file_past_a_limit(local) -> None:
    alice = member(local)
    target = collection(alice)
    files = [
        ("files", ("big.json", io.BytesIO(_hungry_json()), "application/json")),
        ("files", ("notes.md", io.BytesIO(b"# Notes\n\nTomatoes want water twice a week."), "text/markdown")),
    ]
    synced = alice.post(f"/v1/collections/{target}/sync", files=files)
    assert synced.status_code == 200, synced.text
    big, notes = synced.json()["data"]
    assert big["status"] == "failed" and big["id"] is None
    assert big["error"]["status"] == 422 and big["error"]["code"] == "parse_limit_exceeded"
    assert "parse_memory_mb" in big["error"]["message"]
    assert notes["status"] == "created"
    assert _stored(local, target)[0] == 1


def test_a_file_past_the_cpu_limit_is_422_and_the_server_stays_up(strict) -> None:
    alice = member(strict)
    target = collection(alice)
    with HealthWatch(strict.url) as health:
        files = {"file": ("endless.txt", io.BytesIO(ENDLESS_TEXT), "text/plain")}
        refused = alice.post(
            "/v1/documents", data={"collection_id": str(target), **BACKTRACKING}, files=files
        )
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]
    assert error["loc"] == ["body", "file"] and error["type"] == "parse_limit_exceeded"
    assert "'endless.txt'" in error["msg"] and "2 s of CPU time (parse_cpu_seconds)" in error["msg"]
    assert health.statuses and set(health.statuses) == {200}
    assert _stored(strict, target) == (0, 0)
    # the same regular-expression separators on an ordinary text: read by a fresh worker, served
    text = "First part about tomatoes and water.\nSecond part about seeds and the harvest."
    served = upload(
        alice, target, text, filename="notes.txt", chunk_size="40", separators="\n", is_separator_regex="true"
    )
    assert served.status_code == 201, served.text
    assert _stored(strict, target) == (1, 2)


def _child_cpu() -> dict[int, float]:
    """CPU seconds used so far by each child process of this one (the server runs in it, in a thread)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[1]) == os.getpid():  # fields[1]: ppid
            found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return found


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not seen within {seconds} s: {what}")


def test_a_client_that_leaves_its_upload_cancels_it(local) -> None:
    alice = member(local)
    target = collection(alice)
    files = {"file": ("endless.txt", io.BytesIO(ENDLESS_TEXT), "text/plain")}
    request = alice.build_request(
        "POST", "/v1/documents", data={"collection_id": str(target), **BACKTRACKING}, files=files
    )
    body = request.read()
    head = f"POST /v1/documents HTTP/1.1\r\nHost: {request.url.netloc.decode()}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in request.headers.items() if name.lower() != "host"
    )
    before = _child_cpu()
    address = urlparse(local.url)
    with HealthWatch(local.url) as health:
        client = socket.create_connection((address.hostname, address.port))
        client.sendall(head.encode() + b"\r\n" + body)

        def busy_worker() -> int | None:
            grown = {pid: cpu - before.get(pid, 0.0) for pid, cpu in _child_cpu().items()}
            return next((pid for pid, spent in grown.items() if spent >= 1.0), None)

        worker = _wait(busy_worker, 120, "a parse worker busy with the upload")
        client.close()  # the client leaves mid-read
        _wait(lambda: worker not in _child_cpu(), 120, "the abandoned read's worker stopped")
    assert set(health.statuses) == {200}
    assert _stored(local, target) == (0, 0)
    served = upload(alice, target, "# Notes\n\nTomatoes want water twice a week.")
    assert served.status_code == 201, served.text
    assert _stored(local, target)[0] == 1


def test_a_file_of_one_character_repeated_is_embedded_once_per_distinct_chunk(local) -> None:
    # A user trial: 200 KB of '[' took ~35 s to ingest — parsing and splitting took about a second; the
    # rest was embedding 788 chunks of one full window each (a '[' is a token), all the same text. Now
    # each distinct chunk is embedded once. 40 KB here: ~160 chunks, two distinct texts.
    alice = member(local)
    target = collection(alice)
    text = "[" * 40_000
    answer = upload(alice, target, text, filename="brackets.md")
    assert answer.status_code == 201, answer.text
    document_id = answer.json()["id"]
    chunks = alice.get(f"/v1/documents/{document_id}/chunks", params={"limit": 100}).json()["data"]
    assert len(chunks) == 100 and {c["content"] for c in chunks} == {"[" * len(chunks[0]["content"])}
    assert alice.get(f"/v1/documents/{document_id}").json()["chunks"] > 100  # every chunk stored
    rows = alice.get("/v1/me/usage", params={"endpoint": "/v1/documents", "limit": 100}).json()["data"]
    embedded = sum(r["usage"]["prompt_tokens"] for r in rows)
    assert len(rows) == 1 and 0 < embedded <= 2 * 256  # two texts of one window each, not ~160
    hits = alice.post("/v1/search", json={"query": "[[[", "collection_ids": [target], "limit": 3})
    assert hits.status_code == 200 and len(hits.json()["data"]) == 3  # every chunk has its vector
    assert local.admin.get("/health").status_code == 200
