"""OpenGateLLM 0.4.1 fidelity of the RAG routes (issue 13 items 5-7, 12-18, 24), on a live server with the
real local models, on SQLite and PostgreSQL. Answers are validated against OpenGateLLM 0.4.1's own
response models (tests/api/opengate/spec041.py)."""

from __future__ import annotations

import io
import json

from tests.api.opengate import spec041 as spec
from tests.rag.test_rag_api import GARDEN, MARKET, PASTA, collection, member, upload


def _pdf(pages: list[str]) -> bytes:
    """A minimal PDF with a text layer (Helvetica), one page per string."""
    n = len(pages)
    objects = ["<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, text in enumerate(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * i} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>"
        )
        stream = f"BT /F1 14 Tf 50 700 Td ({text}) Tj ET"
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


# 5 and 24: the same content twice is two documents; metadata is validated first, within its limits


def test_duplicates_are_new_documents_and_metadata_is_checked_first(local) -> None:
    alice = member(local)
    target = collection(alice)
    first = upload(alice, target, PASTA, metadata='{"source": "kitchen"}')
    second = upload(alice, target, PASTA, metadata='{"source": "kitchen"}')
    ids = [spec.valid(spec.CreatedId, r.json()).id for r in (first, second)]
    assert [r.status_code for r in (first, second)] == [201, 201] and ids[0] != ids[1]
    for bad in (
        "{}",
        json.dumps({"k": "x" * 256}),
        json.dumps({f"k{i}": "v" for i in range(11)}),
        '{"k": ""}',
    ):
        for text in (PASTA, "fresh content " + bad):  # known content or not: metadata decides first
            refused = upload(alice, target, text, metadata=bad)
            assert refused.status_code == 422, bad
            assert spec.valid(spec.HTTPValidationError, refused.json()).detail[0].loc[:2] == [
                "body",
                "metadata",
            ]
    limits = {f"k{i}": "v" * 255 for i in range(10)}
    assert upload(alice, target, GARDEN, metadata=json.dumps(limits)).status_code == 201
    documents = alice.get("/v1/documents", params={"collection_id": target}).json()["data"]
    assert len(documents) == 3


# 7 and 14: chunks numbered from 0 within their document; no metadata is null


def test_chunk_ids_are_numbered_per_document(local) -> None:
    alice = member(local)
    target = collection(alice)
    documents = []
    for name in ("a", "b"):
        created = alice.post("/v1/documents", data={"collection_id": str(target), "name": name})
        documents.append(spec.valid(spec.CreatedId, created.json()).id)
    for document_id in documents:
        body = {"chunks": [{"content": "Lighthouses guide ships."}, {"content": "Keepers log the weather."}]}
        added = alice.post(f"/v1/documents/{document_id}/chunks", json=body)
        assert added.status_code == 201, added.text
        assert spec.valid(spec.CreatedChunks, added.json()).model_dump() == {
            "document_id": document_id,
            "ids": [0, 1],
        }
    a = documents[0]
    for blank in ("", "   "):  # stripped, then 1 to 255 characters, as OpenGateLLM
        refused = alice.post("/v1/documents", data={"collection_id": str(target), "name": blank})
        assert refused.status_code == 422, (blank, refused.text)
        assert spec.valid(spec.HTTPValidationError, refused.json()).detail[0].loc[:2] == ["body", "name"]
    padded = alice.post("/v1/documents", data={"collection_id": str(target), "name": "  log  "})
    assert alice.get(f"/v1/documents/{padded.json()['id']}").json()["name"] == "log"
    assert alice.delete(f"/v1/documents/{a}/chunks/1").status_code == 204
    more = alice.post(
        f"/v1/documents/{a}/chunks", json={"chunks": [{"content": "Fog horns.", "metadata": {"k": "v"}}]}
    )
    assert spec.valid(spec.CreatedChunks, more.json()).ids == [2]  # appending continues; 1 is never reused
    listed = spec.valid(spec.Chunks, alice.get(f"/v1/documents/{a}/chunks").json()).data
    assert [(c.id, c.metadata) for c in listed] == [(0, None), (2, {"k": "v"})]
    got = spec.valid(spec.Chunk, alice.get(f"/v1/documents/{a}/chunks/2").json())
    assert (got.id, got.document_id, got.content) == (2, a, "Fog horns.")
    assert alice.get(f"/v1/documents/{a}/chunks/1").status_code == 404
    hits = alice.post(
        "/v1/search", json={"query": "fog horns", "method": "lexical", "collection_ids": [target]}
    )
    top = spec.valid(spec.Searches, hits.json()).data[0].chunk
    assert (top.document_id, top.id, top.metadata) == (a, 2, {"k": "v"})


# 6: a PDF chunk's page stays out of the user's metadata, readable beside it


def test_pdf_page_is_beside_the_metadata(local) -> None:
    alice = member(local)
    target = collection(alice)
    pdf = _pdf(["Harbour tides and moorings.", "Lighthouse lamps and lenses."])
    files = {"file": ("harbour.pdf", io.BytesIO(pdf), "application/pdf")}
    created = alice.post(
        "/v1/documents", data={"collection_id": str(target), "metadata": '{"source": "port"}'}, files=files
    )
    assert created.status_code == 201, created.text
    chunks = alice.get(f"/v1/documents/{created.json()['id']}/chunks").json()
    listed = spec.valid(spec.Chunks, chunks).data
    assert [c.metadata for c in listed] == [{"source": "port"}] * len(listed)
    assert [c.model_extra["page"] for c in listed] == [1, 2]
    by_page = {"key": "page", "value": 2}
    hits = alice.post(
        "/v1/search", json={"query": "lighthouse", "collection_ids": [target], "metadata_filters": by_page}
    )
    assert [h["chunk"]["page"] for h in hits.json()["data"]] == [2]


# 12 and 13: `prompt` is the legacy name of `query`; a collection you cannot read is a named 404


def test_search_prompt_alias_and_missing_collections(local) -> None:
    alice, bob = member(local), member(local)
    mine, bobs = collection(alice), collection(bob)
    assert upload(alice, mine, MARKET).status_code == 201
    legacy = alice.post("/v1/search", json={"prompt": "stock market", "collection_ids": [mine]})
    assert legacy.status_code == 200, legacy.text
    assert "market" in spec.valid(spec.Searches, legacy.json()).data[0].chunk.content
    assert alice.post("/v1/search", json={"collection_ids": [mine]}).status_code == 422
    for missing in (bobs, 2**31 - 1):
        refused = alice.post("/v1/search", json={"query": "market", "collection_ids": [mine, missing]})
        assert refused.status_code == 404
        assert str(missing) in spec.valid(spec.HTTPException, refused.json()).detail
        body = {
            "model": "local-chat",
            "messages": [{"role": "user", "content": "market?"}],
            "max_tokens": 4,
            "tools": [{"type": "search", "collection_ids": [missing]}],
        }
        chat = alice.post("/v1/chat/completions", json=body)
        assert chat.status_code == 404 and str(missing) in spec.valid(spec.HTTPException, chat.json()).detail


def test_search_reads_collections_the_former_name_of_collection_ids(local) -> None:
    # A trial client sent OpenGateLLM's former field `collections`: ignored, it searched every collection
    # the caller can read (OpenGateLLM 0.4 still reads it as `collection_ids`).
    alice = member(local)
    mine, other = collection(alice), collection(alice)
    assert upload(alice, mine, GARDEN).status_code == 201
    assert upload(alice, other, MARKET).status_code == 201
    for method in ("semantic", "lexical", "hybrid"):
        body = {"query": "stock market tomatoes", "collections": [mine], "method": method, "limit": 10}
        hits = spec.valid(spec.Searches, alice.post("/v1/search", json=body).json()).data
        assert hits and {h.chunk.collection_id for h in hits} == {mine}, method
        both = alice.post("/v1/search", json={**body, "collections": [mine, other]}).json()["data"]
        assert {h["chunk"]["collection_id"] for h in both} == {mine, other}, method
    # `collection_ids` wins when both are sent; a bad id under the old name is a 422 naming it
    given = alice.post(
        "/v1/search", json={"query": "market", "collection_ids": [other], "collections": [mine]}
    )
    assert {h["chunk"]["collection_id"] for h in given.json()["data"]} == {other}
    refused = alice.post("/v1/search", json={"query": "market", "collections": [0]})
    assert refused.status_code == 422
    assert spec.valid(spec.HTTPValidationError, refused.json()).detail[0].loc[:2] == ["body", "collections"]
    assert local.admin.get("/health").status_code == 200


def test_a_score_threshold_outside_semantic_search_is_a_400(local) -> None:
    # It was ignored (nothing filtered); OpenGateLLM 0.4: "only available for semantic search method".
    alice = member(local)
    target = collection(alice)
    assert upload(alice, target, MARKET).status_code == 201
    for method in ("hybrid", "lexical"):
        body = {"query": "market", "collection_ids": [target], "method": method, "score_threshold": 0.5}
        refused = alice.post("/v1/search", json=body)
        assert refused.status_code == 400, refused.text
        assert "score_threshold" in spec.valid(spec.HTTPException, refused.json()).detail
        chat = {
            "model": "local-chat",
            "messages": [{"role": "user", "content": "market?"}],
            "max_tokens": 4,
            "tools": [{"type": "search", **{k: v for k, v in body.items() if k != "query"}}],
        }
        assert alice.post("/v1/chat/completions", json=chat).status_code == 400
    body = {"query": "market", "collection_ids": [target], "score_threshold": 0.99}
    strict = alice.post("/v1/search", json=body)  # semantic: the threshold applies
    assert strict.status_code == 200 and strict.json()["data"] == []
    assert local.admin.get("/health").status_code == 200


# 14, 15, 16, 17, 18: search inside chat


def test_chat_search_fidelity(local) -> None:
    alice = member(local)
    target = collection(alice)
    added = alice.post("/v1/documents", data={"collection_id": str(target), "name": "notes"})
    document_id = added.json()["id"]
    body = {"chunks": [{"content": "Pasta cooks for ten minutes in boiling salted water."}]}
    assert alice.post(f"/v1/documents/{document_id}/chunks", json=body).status_code == 201
    ask = {
        "model": "local-chat",
        "messages": [{"role": "user", "content": "How long does pasta cook?"}],
        "max_tokens": 4,
    }
    legacy = alice.post(
        "/v1/chat/completions",
        json={
            **ask,
            "search": True,
            "search_args": {"collections": [target], "k": 3, "limit": 1, "method": "lexical"},
        },
    )
    assert legacy.status_code == 200, legacy.text
    results = spec.valid(spec.ChatCompletion, legacy.json()).search_results
    assert [(r.chunk.document_id, r.chunk.id, r.chunk.metadata) for r in results] == [(document_id, 0, None)]
    no_args = alice.post("/v1/chat/completions", json={**ask, "search": True})
    assert no_args.status_code == 422
    assert ["body", "search_args"] in [
        e.loc for e in spec.valid(spec.HTTPValidationError, no_args.json()).detail
    ]
    tool = {"type": "search", "collection_ids": [target], "limit": 1, "method": "lexical"}
    empty = alice.post(
        "/v1/chat/completions", json={**ask, "messages": [{"role": "user", "content": "  "}], "tools": [tool]}
    )
    assert empty.status_code == 200 and spec.valid(spec.ChatCompletion, empty.json()).search_results == []
    with alice.stream(
        "POST", "/v1/chat/completions", json={**ask, "tools": [tool], "stream": True}
    ) as response:
        frames = [line[5:].strip() for line in response.iter_lines() if line.startswith("data:")]
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(f) for f in frames[:-1]]
    last = spec.valid(spec.ChatCompletionChunk, chunks[-1])
    assert [r.chunk.id for r in last.search_results] == [0]
