"""`lockgate ingest` as a sync (twice → all unchanged; one edit → one document replaced; `--sync` removes a
deleted file; key, URL and collection checked once with exit 2) and the routes under it
(POST /v1/collections/{id}/sync, GET .../manifest), on SQLite and PostgreSQL with the real models."""

from __future__ import annotations

import asyncio
import io
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.rag.test_rag_api import GARDEN, MARKET, PASTA, collection, member

LOCKGATE = str(Path(sys.executable).parent / "lockgate")


def run(local, client: httpx.Client, folder: Path, target: int | str, *extra: str, url: str | None = None):
    key = client.headers["authorization"].removeprefix("Bearer ")
    command = [LOCKGATE, "ingest", str(folder), "--collection", str(target), "--url", url or local.url]
    return subprocess.run([*command, "--key", key, *extra], capture_output=True, text=True, timeout=300)


def documents(client: httpx.Client, target: int) -> dict[str, int]:
    entries = client.get(f"/v1/collections/{target}/manifest").json()["data"]
    return {entry["name"]: entry["id"] for entry in entries}


def lexical(client: httpx.Client, target: int, query: str) -> list[str]:
    body = {"query": query, "method": "lexical", "collection_ids": [target], "limit": 10}
    return [hit["chunk"]["content"] for hit in client.post("/v1/search", json=body).json()["data"]]


def test_ingest_twice_is_unchanged_an_edit_replaces_one_and_sync_removes_the_gone(local, tmp_path) -> None:
    alice = member(local)
    target = collection(alice)
    name = alice.get(f"/v1/collections/{target}").json()["name"]
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / "a.md").write_text(PASTA)
    (folder / "sub" / "b.txt").write_text(GARDEN)
    (folder / "prices.csv").write_text("item,price\nflour,2\n")
    (folder / "ignored.bin").write_bytes(b"\0\1")
    (folder / ".git" / "HEAD.md").write_text("hidden")

    first = run(local, alice, folder, target)
    assert first.returncode == 0, first.stderr
    assert "3 created" in first.stderr and "ignored.bin: unsupported type '.bin'" in first.stderr
    ids = documents(alice, target)
    assert set(ids) == {"a.md", "sub/b.txt", "prices.csv"}

    second = run(local, alice, folder, name)  # by name this time
    assert second.returncode == 0, second.stderr
    assert "0 created, 0 replaced, 3 unchanged" in second.stderr
    assert documents(alice, target) == ids

    (folder / "a.md").write_text(MARKET)
    third = run(local, alice, folder, target)
    assert third.returncode == 0, third.stderr
    assert "0 created, 1 replaced, 2 unchanged" in third.stderr
    after = documents(alice, target)
    assert set(after) == set(ids) and after["a.md"] != ids["a.md"]
    assert {k: v for k, v in after.items() if k != "a.md"} == {k: v for k, v in ids.items() if k != "a.md"}
    assert alice.get(f"/v1/documents/{ids['a.md']}").status_code == 404
    assert not any("pasta" in text for text in lexical(alice, target, "pasta"))  # old chunks went with it
    assert any("stock market" in text for text in lexical(alice, target, "stock market investors"))

    (folder / "sub" / "b.txt").unlink()
    kept = run(local, alice, folder, target)  # without --sync, nothing is removed
    assert kept.returncode == 0 and "sub/b.txt" in documents(alice, target)
    fourth = run(local, alice, folder, target, "--sync")
    assert fourth.returncode == 0, fourth.stderr
    assert "2 unchanged, 1 removed, 0 failed" in fourth.stderr
    assert set(documents(alice, target)) == {"a.md", "prices.csv"}


def test_wrong_key_url_or_collection_stops_at_once_with_exit_2(local, tmp_path) -> None:
    alice = member(local)
    target = collection(alice)
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.md").write_text(f"# Note {i}\n\nText {i}.")
    bob = member(local)
    wrong_key = httpx.Client(base_url=local.url, headers={"Authorization": "Bearer sk-wrong"})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    cases = [
        (run(local, wrong_key, folder, target), "refused the API key"),
        (run(local, alice, folder, target, url=closed), "cannot reach Lockgate"),
        (run(local, alice, folder, "no-such-collection"), "no collection 'no-such-collection'"),
        (run(local, bob, folder, target), f"no collection '{target}'"),  # another user's private one
    ]
    for result, message in cases:
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
        assert result.stderr.count("Error:") == 1
    assert documents(alice, target) == {}


def test_a_url_that_is_not_lockgates_base_is_named_not_the_collection(local, tmp_path) -> None:
    """The OpenAI client's base URL (…/v1) answers 404 on every route: that is a wrong --url, not a
    missing collection (nor a wrong key, which such a URL never gets to check)."""
    alice = member(local)
    target = collection(alice)
    name = alice.get(f"/v1/collections/{target}").json()["name"]
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text(PASTA)
    wrong_key = httpx.Client(base_url=local.url, headers={"Authorization": "Bearer sk-wrong"})
    for client, wanted in ((alice, target), (alice, name), (wrong_key, name)):
        result = run(local, client, folder, wanted, url=local.url + "/v1")
        assert result.returncode == 2, result.stderr
        assert "no Lockgate API at" in result.stderr and "no collection" not in result.stderr, result.stderr
        assert "without /v1" in result.stderr and result.stderr.count("Error:") == 1
    assert documents(alice, target) == {}


def _files(*items: tuple[str, str | bytes]) -> list[tuple[str, tuple[str, io.BytesIO, str]]]:
    return [
        (
            "files",
            (name, io.BytesIO(data.encode() if isinstance(data, str) else data), "application/octet-stream"),
        )
        for name, data in items
    ]


def test_sync_route_reports_each_file_and_accepts_duplicate_content(local) -> None:
    alice = member(local)
    target = collection(alice)
    answer = alice.post(
        f"/v1/collections/{target}/sync",
        files=_files(("one.md", PASTA), ("two.md", PASTA), ("bad.bin", b"\0"), ("x.txt", GARDEN)),
        data={"names": ["one.md", "two.md", "bad.bin", "notes/garden.txt"]},
    )
    assert answer.status_code == 200, answer.text
    results = {item["name"]: item for item in answer.json()["data"]}
    assert [results[n]["status"] for n in ("one.md", "two.md", "notes/garden.txt")] == ["created"] * 3
    assert results["bad.bin"]["status"] == "failed" and results["bad.bin"]["error"]["status"] == 415
    assert results["one.md"]["id"] != results["two.md"]["id"]  # the same content under two names: two
    assert set(documents(alice, target)) == {"one.md", "two.md", "notes/garden.txt"}
    again = alice.post(f"/v1/collections/{target}/sync", files=_files(("one.md", PASTA)))
    assert again.json()["data"][0] == {**results["one.md"], "status": "unchanged", "warnings": []}
    # OpenGateLLM's POST /v1/documents accepts the same content again, as a new document
    posted = alice.post(
        "/v1/documents", data={"collection_id": str(target)}, files={"file": ("one.md", PASTA.encode())}
    )
    assert posted.status_code == 201, posted.text


def test_a_collection_that_dedups_refuses_duplicate_content(local) -> None:
    alice = member(local)
    created = alice.post("/v1/collections", json={"name": "dedup", "dedup": True})
    assert created.status_code == 201, created.text
    target = created.json()["id"]
    assert alice.get(f"/v1/collections/{target}").json()["dedup"] is True
    answer = alice.post(
        f"/v1/collections/{target}/sync",
        files=_files(("one.md", PASTA), ("two.md", PASTA), ("three.md", GARDEN)),
    ).json()["data"]
    assert [item["status"] for item in answer] == ["created", "failed", "created"]
    assert answer[1]["error"]["status"] == 409 and "one.md" in answer[1]["error"]["message"]
    posted = alice.post(
        "/v1/documents", data={"collection_id": str(target)}, files={"file": ("again.md", GARDEN.encode())}
    )
    assert posted.status_code == 409
    assert alice.patch(f"/v1/collections/{target}", json={"dedup": False}).status_code == 204
    posted = alice.post(
        "/v1/documents", data={"collection_id": str(target)}, files={"file": ("again.md", GARDEN.encode())}
    )
    assert posted.status_code == 201


def test_sync_route_refusals(local) -> None:
    alice, bob = member(local, ["create_public_collection"]), member(local)
    mine = collection(alice)
    shared = collection(alice, visibility="public")
    assert bob.post(f"/v1/collections/{mine}/sync", files=_files(("a.md", PASTA))).status_code == 404
    assert bob.get(f"/v1/collections/{mine}/manifest").status_code == 404
    assert bob.post(f"/v1/collections/{shared}/sync", files=_files(("a.md", PASTA))).status_code == 403
    assert bob.get(f"/v1/collections/{shared}/manifest").status_code == 200  # readable: public
    same_name = alice.post(
        f"/v1/collections/{mine}/sync",
        files=_files(("a.md", PASTA), ("b.md", GARDEN)),
        data={"names": ["x", "x"]},
    )
    assert same_name.status_code == 422 and "names" in same_name.text
    fewer_names = alice.post(
        f"/v1/collections/{mine}/sync", files=_files(("a.md", PASTA), ("b.md", GARDEN)), data={"names": ["x"]}
    )
    assert fewer_names.status_code == 422
    assert alice.post(f"/v1/collections/{mine}/sync").status_code == 422  # no files
    assert documents(alice, mine) == {}


def test_a_failed_replacement_keeps_the_old_version_whole(local) -> None:
    """A real database failure while the new version's chunks are written (a trigger raises): the old
    document and its chunks stay, searchable, and the next sync replaces it."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(local.database_url)
    alice = member(local)
    target = collection(alice)
    first = alice.post(f"/v1/collections/{target}/sync", files=_files(("a.md", PASTA))).json()["data"][0]

    async def execute(statements: list[str]) -> None:
        conn = await asyncpg.connect(user=url.username, host=url.query["host"], database=url.database)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    def sql(sqlite: list[str], postgres: list[str]) -> None:
        if url.get_backend_name() == "sqlite":
            import sqlite3

            with sqlite3.connect(url.database) as db:
                for statement in sqlite:
                    db.execute(statement)
        else:
            asyncio.run(execute(postgres))

    sql(
        [
            "CREATE TRIGGER boom BEFORE INSERT ON chunks WHEN NEW.content LIKE '%market%' "
            "BEGIN SELECT RAISE(ABORT, 'boom'); END"
        ],
        [
            "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN IF NEW.content LIKE '%market%' THEN "
            "RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER boom BEFORE INSERT ON chunks FOR EACH ROW EXECUTE FUNCTION boom()",
        ],
    )
    try:
        failed = alice.post(f"/v1/collections/{target}/sync", files=_files(("a.md", MARKET)))
        assert failed.status_code == 500  # the simulated crash
    finally:
        sql(["DROP TRIGGER boom"], ["DROP TRIGGER boom ON chunks", "DROP FUNCTION boom()"])
    # a new connection: the server may close the one that carried the crash after answering it
    alice = httpx.Client(base_url=local.url, headers=alice.headers, timeout=alice.timeout)
    assert documents(alice, target) == {"a.md": first["id"]}
    assert any("pasta" in text for text in lexical(alice, target, "boil salted water pasta"))
    replaced = alice.post(f"/v1/collections/{target}/sync", files=_files(("a.md", MARKET))).json()["data"][0]
    assert replaced["status"] == "replaced" and replaced["id"] != first["id"]


def test_chunks_longer_than_the_embedder_reads_are_warned_about(local) -> None:
    alice = member(local)
    target = collection(alice)
    long_text = "\n\n".join(
        f"Paragraph {i} on irrigation, drainage and soil salinity in orchards." for i in range(80)
    )
    files = {"file": ("long.md", long_text.encode(), "text/markdown")}
    fitting = alice.post("/v1/documents", data={"collection_id": str(target)}, files=files)
    assert fitting.status_code == 201 and "warning" not in fitting.headers
    chunks = alice.get(f"/v1/documents/{fitting.json()['id']}/chunks", params={"limit": 100}).json()["data"]
    assert len(chunks) > 2  # default chunks fit MiniLM's 256 tokens: ~1,000 characters, not 2,048
    assert max(len(c["content"]) for c in chunks) < 1600
    files = {"file": ("long2.md", long_text.encode(), "text/markdown")}
    too_long = alice.post(
        "/v1/documents", data={"collection_id": str(target), "chunk_size": "4000"}, files=files
    )
    assert too_long.status_code == 201
    assert (
        too_long.headers["warning"].startswith('299 lockgate "')
        and "254 tokens" in too_long.headers["warning"]
    )
