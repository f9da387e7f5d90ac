"""OpenGateLLM RAG routes on a live server with the real MiniLM embeddings (SQLite store)."""

from __future__ import annotations

import io
import itertools
import time

import httpx
import pytest

from tests.helpers import bearer
from tests.live import CLIENT_TIMEOUT

_seq = itertools.count(1)

PASTA = "# Cooking\n\nTo cook pasta, boil salted water, add the pasta and cook it for ten minutes."
MARKET = "# Finance\n\nThe stock market fell sharply on Monday as investors sold technology shares."
GARDEN = "# Gardening\n\nWater tomato plants deeply twice a week and keep the soil mulched."


def member(local, permissions: list[str] | None = None) -> httpx.Client:
    n = next(_seq)
    role = local.admin.post(
        "/v1/admin/roles", json={"name": f"rag-{n}", "permissions": permissions or []}
    ).json()
    user = local.admin.post(
        "/v1/admin/users", json={"email": f"rag{n}@example.org", "password": "pw", "role": role["id"]}
    ).json()
    key = local.admin.post("/v1/admin/tokens", json={"name": "k", "user": user["id"]}).json()["token"]
    return httpx.Client(base_url=local.url, headers=bearer(key), timeout=CLIENT_TIMEOUT)


def collection(client: httpx.Client, visibility: str = "private") -> int:
    response = client.post("/v1/collections", json={"name": f"c{next(_seq)}", "visibility": visibility})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def upload(
    client: httpx.Client, collection_id: int, text: str, filename: str = "doc.md", **form
) -> httpx.Response:
    files = {"file": (filename, io.BytesIO(text.encode()), "text/markdown")}
    return client.post("/v1/documents", data={"collection_id": str(collection_id), **form}, files=files)


def test_collection_lifecycle_and_visibility_rules(local) -> None:
    alice, bob = member(local), member(local)
    private = collection(alice)
    got = alice.get(f"/v1/collections/{private}").json()
    assert (got["object"], got["visibility"], got["documents"]) == ("collection", "private", 0)
    refused = alice.post("/v1/collections", json={"name": "pub", "visibility": "public"})
    assert refused.status_code == 403 and "create_public_collection" in refused.json()["detail"]
    for method, path, body in (
        ("GET", f"/v1/collections/{private}", None),
        ("PATCH", f"/v1/collections/{private}", {"name": "mine"}),
        ("DELETE", f"/v1/collections/{private}", None),
    ):
        assert bob.request(method, path, json=body).status_code == 404
    assert upload(bob, private, PASTA).status_code == 404
    publisher = member(local, ["create_public_collection"])
    public = collection(publisher, "public")
    assert bob.get(f"/v1/collections/{public}").status_code == 200
    assert upload(bob, public, PASTA).status_code == 403  # readable, not writable
    assert {c["id"] for c in bob.get("/v1/collections", params={"limit": 100}).json()["data"]} >= {public}
    assert private not in {c["id"] for c in bob.get("/v1/collections", params={"limit": 100}).json()["data"]}
    assert alice.patch(f"/v1/collections/{private}", json={"description": "d"}).status_code == 204
    assert alice.delete(f"/v1/collections/{private}").status_code == 204
    assert alice.get(f"/v1/collections/{private}").status_code == 404


def test_patch_changes_only_the_fields_sent(local) -> None:
    alice = member(local)
    target = collection(alice)
    before = alice.get(f"/v1/collections/{target}").json()
    renamed = alice.patch(f"/v1/collections/{target}", json={"name": "renamed", "description": None})
    assert renamed.status_code == 204
    after = alice.get(f"/v1/collections/{target}").json()
    assert (after["name"], after["description"]) == ("renamed", before["description"])  # null: unchanged
    assert alice.patch(f"/v1/collections/{target}", json={"description": "notes"}).status_code == 204
    assert alice.get(f"/v1/collections/{target}").json()["name"] == "renamed"
    refused = alice.patch(f"/v1/collections/{target}", json={"visibility": "public"})
    assert refused.status_code == 403 and "create_public_collection" in refused.json()["detail"]
    assert alice.get(f"/v1/collections/{target}").json()["visibility"] == "private"
    publisher = member(local, ["create_public_collection"])
    own = collection(publisher)
    name = publisher.get(f"/v1/collections/{own}").json()["name"]
    assert publisher.patch(f"/v1/collections/{own}", json={"visibility": "public"}).status_code == 204
    got = publisher.get(f"/v1/collections/{own}").json()
    assert (got["visibility"], got["name"]) == ("public", name)


def test_upload_chunks_with_metadata_and_refuses_bad_files(local) -> None:
    alice = member(local)
    target = collection(alice)
    created = upload(
        alice, target, PASTA + "\n\n" + GARDEN, chunk_size="80", metadata='{"source": "kitchen"}'
    )
    assert created.status_code == 201, created.text
    document_id = created.json()["id"]
    document = alice.get(f"/v1/documents/{document_id}").json()
    assert document["object"] == "document" and document["chunks"] >= 2
    chunks = alice.get(f"/v1/documents/{document_id}/chunks", params={"limit": 100}).json()["data"]
    assert len(chunks) == document["chunks"]
    assert all(c["metadata"]["source"] == "kitchen" and len(c["content"]) <= 80 for c in chunks)
    assert alice.get(f"/v1/chunks/{document_id}/{chunks[0]['id']}").json()["content"] == chunks[0]["content"]
    again = upload(alice, target, PASTA + "\n\n" + GARDEN)  # same content again: a second document
    assert again.status_code == 201 and again.json()["id"] != document_id
    unsupported = upload(alice, target, "MZ...", filename="tool.exe")
    assert unsupported.status_code == 415 and ".pdf" in unsupported.json()["detail"]
    corrupt = alice.post(
        "/v1/documents",
        data={"collection_id": str(target)},
        files={"file": ("broken.pdf", io.BytesIO(b"%PDF-1.7 garbage"), "application/pdf")},
    )
    assert corrupt.status_code == 400
    assert (
        alice.post(
            "/v1/documents",
            data={"collection_id": str(target), "metadata": "[1]"},
            files={"file": ("a.md", io.BytesIO(b"text"), "text/markdown")},
        ).status_code
        == 422
    )
    listed = alice.get("/v1/documents", params={"collection_id": target}).json()["data"]
    # nothing left behind by the refused uploads
    assert [d["id"] for d in listed] == [document_id, again.json()["id"]]


def test_a_filename_past_255_characters_names_the_document_by_its_first_255(local) -> None:
    """Without `name`, the document is named by its filename: a longer one was stored whole on SQLite
    and refused by PostgreSQL's VARCHAR(255) (a 5xx); now cut to 255 with its suffix; explicit names
    stay refused past 255."""
    alice = member(local)
    target = collection(alice)
    long = "n" * 300 + ".md"
    clipped = "n" * 252 + ".md"  # the suffix kept: it is how the file's type is known
    created = upload(alice, target, PASTA, filename=long)
    assert created.status_code == 201, created.text
    assert alice.get(f"/v1/documents/{created.json()['id']}").json()["name"] == clipped
    # through a job too, where the file waits as an upload (its stored name once lost the suffix)
    files = {"file": (long, io.BytesIO(PASTA.encode()), "application/octet-stream")}
    queued = alice.post(
        "/v1/documents", params={"async": "true"}, data={"collection_id": str(target)}, files=files
    )
    assert queued.status_code == 202, queued.text
    deadline = time.monotonic() + 120
    while (job := alice.get(f"/v1/jobs/{queued.json()['id']}").json())["status"] in ("pending", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["status"] == "completed", job
    assert alice.get(f"/v1/documents/{job['document_ids'][0]}").json()["name"] == clipped
    assert upload(alice, target, PASTA, filename="a.md", name=long).status_code == 422
    assert alice.get("/health").status_code == 200


def test_deeply_nested_metadata_is_a_422_not_a_500(local) -> None:
    # json.loads raised RecursionError on 100,000 nested arrays: a 500 and a reset connection.
    alice = member(local)
    target = collection(alice)
    refused = upload(alice, target, "text", metadata="[" * 100_000 + "]" * 100_000)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "metadata"]
    assert local.admin.get("/health").status_code == 200
    assert alice.get("/v1/documents", params={"collection_id": target}).json()["data"] == []


def test_search_methods_access_and_filters(local) -> None:
    alice, bob = member(local), member(local)
    mine = collection(alice)
    for text, topic in ((PASTA, "food"), (MARKET, "money"), (GARDEN, "plants")):
        assert upload(alice, mine, text, metadata=f'{{"topic": "{topic}"}}').status_code == 201
    secret = collection(bob)
    assert (
        upload(bob, secret, "To cook pasta perfectly, Bob's secret is a pinch of saffron.").status_code == 201
    )

    def top(client, **body):
        response = client.post("/v1/search", json={"query": "how long to cook pasta", "limit": 5, **body})
        assert response.status_code == 200, response.text
        return response.json()["data"]

    for method in ("semantic", "lexical", "hybrid"):
        hits = top(alice, method=method)
        assert "pasta" in hits[0]["chunk"]["content"]
        assert all(h["chunk"]["collection_id"] == mine for h in hits)  # never Bob's chunk
        assert hits[0]["method"] == method
    refused = alice.post("/v1/search", json={"query": "pasta", "collection_ids": [secret]})
    assert refused.status_code == 404  # asking for it does not open it: it looks absent
    filtered = top(alice, method="hybrid", metadata_filters={"key": "topic", "type": "eq", "value": "money"})
    assert [h["chunk"]["metadata"]["topic"] for h in filtered] == ["money"]
    compound = {
        "filters": [{"key": "topic", "type": "sw", "value": "pl"}, {"key": "topic", "value": "food"}],
        "operator": "or",
    }
    assert {h["chunk"]["metadata"]["topic"] for h in top(alice, metadata_filters=compound)} == {
        "plants",
        "food",
    }
    first = top(alice, method="hybrid", limit=2)
    second = alice.post(
        "/v1/search", json={"query": "how long to cook pasta", "method": "hybrid", "limit": 2, "offset": 2}
    ).json()["data"]
    chunk_keys = [{(h["chunk"]["document_id"], h["chunk"]["id"]) for h in page} for page in (first, second)]
    assert not chunk_keys[0] & chunk_keys[1]
    assert alice.post("/v1/search", json={"query": ""}).status_code == 422


def test_chunks_added_by_hand_and_deleted_documents_leave_no_ghost_hits(local) -> None:
    alice = member(local)
    target = collection(alice)
    empty = alice.post("/v1/documents", data={"collection_id": str(target), "name": "manual"})
    assert empty.status_code == 201
    document_id = empty.json()["id"]
    too_many = {"chunks": [{"content": f"c{i}"} for i in range(65)]}
    assert alice.post(f"/v1/documents/{document_id}/chunks", json=too_many).status_code == 422
    added = alice.post(
        f"/v1/documents/{document_id}/chunks",
        json={
            "chunks": [
                {"content": "Quantum tunnelling lets particles cross barriers.", "metadata": {"k": "v"}}
            ]
        },
    )
    assert added.status_code == 201
    chunk_id = added.json()["ids"][0]
    hits = alice.post("/v1/search", json={"query": "quantum tunnelling", "method": "lexical"}).json()["data"]
    assert [h["chunk"]["id"] for h in hits] == [chunk_id]
    assert alice.delete(f"/v1/documents/{document_id}").status_code == 204
    for method in ("lexical", "semantic", "hybrid"):
        assert (
            alice.post("/v1/search", json={"query": "quantum tunnelling", "method": method}).json()["data"]
            == []
        )
    assert alice.get(f"/v1/documents/{document_id}/chunks/{chunk_id}").status_code == 404


@pytest.mark.parametrize("size", [26 * 1024 * 1024])
def test_huge_upload_is_413(local, size: int) -> None:
    alice = member(local)
    target = collection(alice)
    response = upload(alice, target, "x" * size, filename="big.txt")
    assert response.status_code == 413


def test_chat_with_the_search_tool_is_grounded_and_returns_its_sources(local) -> None:
    alice = member(local)
    target = collection(alice)
    assert upload(alice, target, PASTA).status_code == 201
    assert upload(alice, target, MARKET).status_code == 201
    body = {
        "model": "local-chat",
        "messages": [{"role": "user", "content": "How long should pasta cook?"}],
        "max_tokens": 20,
        "tools": [{"type": "search", "collection_ids": [target], "limit": 1, "method": "hybrid"}],
    }
    answer = alice.post("/v1/chat/completions", json=body)
    assert answer.status_code == 200, answer.text
    results = answer.json()["search_results"]
    assert len(results) == 1 and "pasta" in results[0]["chunk"]["content"]
    assert answer.json()["choices"][0]["message"]["content"]
    deprecated = {
        **body,
        "tools": None,
        "search": True,
        "search_args": {"collection_ids": [target], "limit": 2},
    }
    deprecated.pop("tools")
    assert len(alice.post("/v1/chat/completions", json=deprecated).json()["search_results"]) == 1
    with alice.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        frames = [line for line in response.iter_lines() if line.startswith("data:")]
    assert '"search_results"' in frames[0] and frames[-1] == "data: [DONE]"
    assert '"search_results"' in frames[-2]  # the last chunk too, where OpenGateLLM clients read it
    bad = {**body, "tools": [{"type": "search", "limit": 1000}]}
    refused = alice.post("/v1/chat/completions", json=bad)
    assert refused.status_code == 422 and "limit" in refused.json()["error"]["param"]
    endpoints = {r["endpoint"] for r in alice.get("/v1/me/usage", params={"limit": 100}).json()["data"]}
    assert {"/v1/search", "/v1/chat/completions", "/v1/documents"} <= endpoints


def _scanned_pdf(words: str) -> bytes:
    """A PDF whose only page is an image of text: no text layer, OCR needed."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1000, 220), "white")
    ImageDraw.Draw(image).text((20, 70), words, fill="black", font=ImageFont.load_default(48))
    buffer = io.BytesIO()
    image.save(buffer, format="PDF")
    return buffer.getvalue()


def test_scanned_pdf_pages_are_read_by_ocr_in_uploads_and_parse_beta(local) -> None:
    alice = member(local)
    target = collection(alice)
    pdf = _scanned_pdf("Lighthouse keepers log")
    files = {"file": ("scan.pdf", io.BytesIO(pdf), "application/pdf")}
    created = alice.post("/v1/documents", data={"collection_id": str(target)}, files=files)
    assert created.status_code == 201, created.text
    chunks = alice.get(f"/v1/documents/{created.json()['id']}/chunks").json()["data"]
    assert "lighthouse" in chunks[0]["content"].lower() and chunks[0]["page"] == 1
    assert chunks[0]["metadata"] is None  # the page is not mixed into the user's metadata
    parsed = alice.post(
        "/v1/parse-beta",
        files={"file": ("scan.pdf", io.BytesIO(pdf), "application/pdf")},
        data={"force_ocr": "true"},
    )
    assert parsed.status_code == 200, parsed.text
    page = parsed.json()["data"][0]
    assert page["object"] == "documentPage" and "keepers" in page["content"].lower()
    assert page["metadata"] == {"document_name": "scan.pdf", "page": 0}
    bad_range = alice.post(
        "/v1/parse-beta",
        files={"file": ("scan.pdf", io.BytesIO(pdf), "application/pdf")},
        data={"page_range": "3-1"},
    )
    assert bad_range.status_code == 400


def test_cli_ingests_a_folder(local, tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    alice = member(local)
    target = collection(alice)
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text(PASTA)
    (folder / "sub" / "b.txt").write_text(GARDEN)
    (folder / "ignored.bin").write_bytes(b"\0\1")
    key = alice.headers["authorization"].removeprefix("Bearer ")
    lockgate = str(Path(sys.executable).parent / "lockgate")
    result = subprocess.run(
        [lockgate, "ingest", str(folder), "--collection", str(target), "--url", local.url, "--key", key],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "2 created" in result.stderr and "ignored.bin" in result.stderr  # listed as skipped
    names = {d["name"] for d in alice.get("/v1/documents", params={"collection_id": target}).json()["data"]}
    assert names == {"a.md", "sub/b.txt"}  # named by their path under the folder


def test_text_with_nul_bytes_is_stored_without_them(local) -> None:
    alice = member(local)
    target = collection(alice)
    response = upload(alice, target, "Null\x00 bytes\x00 are dropped.", filename="nul.txt")
    assert response.status_code == 201, response.text
    chunk = alice.get(f"/v1/documents/{response.json()['id']}/chunks").json()["data"][0]
    assert chunk["content"] == "Null bytes are dropped."


def test_docx_headings_become_markdown(local) -> None:
    from docx import Document as Docx

    document = Docx()
    document.add_heading("Harvest notes", level=1)
    document.add_paragraph("Pick apples when the seeds turn brown.")
    buffer = io.BytesIO()
    document.save(buffer)
    alice = member(local)
    target = collection(alice)
    mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    created = alice.post(
        "/v1/documents",
        data={"collection_id": str(target)},
        files={"file": ("notes.docx", buffer.getvalue(), mime)},
    )
    assert created.status_code == 201, created.text
    content = alice.get(f"/v1/documents/{created.json()['id']}/chunks").json()["data"][0]["content"]
    assert content.startswith("# Harvest notes") and "seeds turn brown" in content


def test_a_failure_half_way_through_writing_chunks_leaves_nothing(local) -> None:
    """A real database failure on the 5th of 10 chunk rows (a trigger raises), not a mock."""
    import asyncio

    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(local.database_url)
    alice = member(local)
    target = collection(alice)
    text = "\n\n".join(f"# Part {i}\n\nParagraph number {i} about crash safety." for i in range(10))

    async def trigger(sql_sqlite: list[str], sql_pg: list[str]) -> None:
        if url.get_backend_name() == "sqlite":
            import sqlite3

            with sqlite3.connect(url.database) as db:
                for statement in sql_sqlite:
                    db.execute(statement)
            return
        conn = await asyncpg.connect(user=url.username, host=url.query["host"], database=url.database)
        try:
            for statement in sql_pg:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(
        trigger(
            [
                "CREATE TRIGGER boom BEFORE INSERT ON chunks WHEN NEW.position = 4 "
                "BEGIN SELECT RAISE(ABORT, 'boom'); END"
            ],
            [
                "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN IF NEW.position = 4 THEN "
                "RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER boom BEFORE INSERT ON chunks FOR EACH ROW EXECUTE FUNCTION boom()",
            ],
        )
    )
    try:
        response = upload(alice, target, text, chunk_size="60")
        assert response.status_code == 500  # the simulated crash
    finally:
        asyncio.run(trigger(["DROP TRIGGER boom"], ["DROP TRIGGER boom ON chunks", "DROP FUNCTION boom()"]))
    assert alice.get("/v1/documents", params={"collection_id": target}).json()["data"] == []
    hits = alice.post(
        "/v1/search", json={"query": "crash safety", "method": "hybrid", "collection_ids": [target]}
    )
    assert hits.json()["data"] == []
    assert (
        upload(alice, target, text, chunk_size="60").status_code == 201
    )  # and the same content goes in after


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/v1/collections", {"json": {"name": "x"}}),
        ("GET", "/v1/collections", {}),
        ("GET", "/v1/documents", {}),
        ("POST", "/v1/documents", {"data": {"collection_id": "1", "name": "n"}}),
        ("POST", "/v1/search", {"json": {"query": "x"}}),
        ("POST", "/v1/parse-beta", {"files": {"file": ("a.txt", b"x", "text/plain")}}),
        ("GET", "/v1/me/usage", {}),
    ],
)
def test_rag_and_usage_routes_refuse_missing_and_wrong_keys(
    local, method: str, path: str, kwargs: dict
) -> None:
    assert httpx.request(method, f"{local.url}{path}", **kwargs).status_code == 401
    wrong = httpx.request(method, f"{local.url}{path}", headers=bearer("sk-wrong-key"), **kwargs)
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/me/usage", {"limit": 0}),
        ("/v1/me/usage", {"start_time": -1}),
        ("/v1/collections", {"limit": 101}),
    ],
)
def test_bad_list_parameters_are_422(local, path: str, params: dict) -> None:
    response = local.admin.get(path, params=params)
    assert response.status_code == 422
    assert next(iter(params)) in response.json()["detail"][0]["loc"]


def test_bad_search_and_upload_bodies_are_422_naming_the_field(local) -> None:
    alice = member(local)
    target = collection(alice)
    for body, field in (
        ({"query": "x", "method": "fuzzy"}, "method"),
        ({"query": "x", "limit": 0}, "limit"),
        ({"query": "x", "metadata_filters": {"key": "k", "type": "regex", "value": "v"}}, "metadata_filters"),
    ):
        response = alice.post("/v1/search", json=body)
        assert response.status_code == 422
        assert field in response.json()["detail"][0]["loc"]
    bad_preset = upload(alice, target, PASTA, preset_separators="klingon")
    assert bad_preset.status_code == 422
    assert bad_preset.json()["detail"][0]["loc"] == ["body", "preset_separators"]
    no_collection = alice.post("/v1/documents", files={"file": ("a.md", io.BytesIO(b"x"), "text/markdown")})
    assert no_collection.status_code == 422


def test_a_deleted_tenants_ids_and_vectors_never_serve_another(local) -> None:
    """The newest collection deleted, the next one created by someone else: it gets a new id (SQLite
    once reused max(id) + 1), and searching it uses its own vectors, not the deleted collection's."""
    alice, bob = member(local), member(local)
    old = collection(alice)
    document = upload(alice, old, PASTA).json()["id"]
    chunk = alice.get(f"/v1/documents/{document}/chunks").json()["data"][0]["id"]
    hit = alice.post(
        "/v1/search", json={"collection_ids": [old], "query": "cook pasta", "method": "semantic"}
    )
    top = hit.json()["data"][0]["chunk"]
    assert (top["document_id"], top["id"]) == (document, chunk)  # alice's vectors are now cached
    assert alice.delete(f"/v1/collections/{old}").status_code == 204
    new = collection(bob)
    assert new > old
    new_document = upload(bob, new, GARDEN).json()["id"]
    assert new_document > document
    # chunk ids are numbered within their document (as OpenGateLLM does): a chunk is (document, id),
    # and the new document's id is new
    new_chunk = bob.get(f"/v1/documents/{new_document}/chunks").json()["data"][0]["id"]
    own = bob.post(
        "/v1/search", json={"collection_ids": [new], "query": "tomato plants", "method": "semantic"}
    )
    (result,) = own.json()["data"]
    assert (result["chunk"]["document_id"], result["chunk"]["id"]) == (new_document, new_chunk)
    assert result["score"] > 0.3
    other = bob.post(
        "/v1/search", json={"collection_ids": [new], "query": "cook pasta", "method": "semantic"}
    )
    assert all(r["chunk"]["document_id"] == new_document for r in other.json()["data"])
    assert all(r["score"] < result["score"] for r in other.json()["data"])
    assert bob.get(f"/v1/collections/{old}").status_code == 404
