"""Citations, the evaluation route, fusion and rerank on a live server with the real local models
(SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import math

import pytest

from tests.rag.test_rag_api import GARDEN, MARKET, PASTA, collection, member, upload


def test_search_hits_and_grounded_answers_carry_document_name_and_page(local) -> None:
    alice = member(local)
    target = collection(alice)
    assert upload(alice, target, PASTA, filename="cooking-guide.md").status_code == 201
    assert upload(alice, target, MARKET, filename="markets.md").status_code == 201
    manual = alice.post("/v1/documents", data={"collection_id": str(target), "name": "handbook"}).json()["id"]
    added = alice.post(
        f"/v1/documents/{manual}/chunks",
        json={
            "chunks": [
                {"content": "Quantum tunnelling lets particles cross barriers.", "metadata": {"page": 7}}
            ]
        },
    )
    assert added.status_code == 201, added.text
    for method in ("lexical", "semantic", "hybrid"):
        hits = alice.post("/v1/search", json={"query": "quantum tunnelling", "method": method}).json()["data"]
        assert (hits[0]["document_name"], hits[0]["page"]) == ("handbook", 7)
        pasta = alice.post("/v1/search", json={"query": "cook pasta", "method": method}).json()["data"]
        assert (pasta[0]["document_name"], pasta[0]["page"]) == ("cooking-guide.md", None)
        assert set(pasta[0]["chunk"]) == {
            "object",
            "id",
            "collection_id",
            "document_id",
            "content",
            "metadata",
            "page",
            "created",
        }  # OpenGateLLM's chunk shape, plus the chunk's `page` (docs/api.md)
    body = {
        "model": "local-chat",
        "messages": [{"role": "user", "content": "How long should pasta cook?"}],
        "max_tokens": 16,
        "tools": [{"type": "search", "collection_ids": [target], "limit": 2, "method": "hybrid"}],
    }
    answer = alice.post("/v1/chat/completions", json=body, timeout=600)  # a busy machine is slow
    assert answer.status_code == 200, answer.text
    results = answer.json()["search_results"]
    assert {r["document_name"] for r in results} <= {"cooking-guide.md", "markets.md", "handbook"}
    citations = answer.json()["citations"]
    assert isinstance(citations, list)  # what a tiny model cites is its own business; the mapping is not
    for citation in citations:
        assert results[citation["index"] - 1]["chunk"]["id"] == citation["chunk_id"]
    with alice.stream("POST", "/v1/chat/completions", json={**body, "stream": True}, timeout=600) as response:
        frames = [line for line in response.iter_lines() if line.startswith("data:")]
    assert sum('"citations"' in frame for frame in frames) == 1 and frames[-1] == "data: [DONE]"


def _judged_collection(local):
    alice = member(local)
    target = collection(alice)
    ids = {}
    for name, text in (("pasta.md", PASTA), ("market.md", MARKET), ("garden.md", GARDEN)):
        created = upload(alice, target, text, filename=name)
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]
    return alice, target, ids


def test_evaluation_returns_hand_computed_metrics(local) -> None:
    alice, target, _ids = _judged_collection(local)
    # Lexical hits are fixed by which words each text holds: "tomato plants water" → garden (3 words),
    # pasta ("water"); "boil water" → pasta (2 words), garden; "investors sold shares" → market only.
    body = {
        "queries": [
            {"id": "q3", "query": "tomato plants water", "relevant": {"pasta.md": 3, "garden.md": 1}},
            {"id": "q4", "query": "investors sold shares", "relevant": ["pasta.md"]},
            {"id": "q5", "query": "boil water", "relevant": ["garden.md"]},
        ],
        "methods": ["lexical"],
        "match": "name",
    }
    answer = alice.post(f"/v1/collections/{target}/evaluate", json=body)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    per_query = {q["id"]: q for q in result["per_query"]}
    assert per_query["q3"]["retrieved"]["lexical"] == ["garden.md", "pasta.md"]
    q3_ndcg = (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))  # 0.7967
    assert per_query["q3"]["scores"]["lexical"] == pytest.approx({"ndcg": q3_ndcg, "recall": 1.0, "mrr": 1.0})
    assert per_query["q4"]["scores"]["lexical"] == {"ndcg": 0.0, "recall": 0.0, "mrr": 0.0}
    q5_ndcg = 1 / math.log2(3)  # the one relevant document second
    assert per_query["q5"]["scores"]["lexical"] == pytest.approx({"ndcg": q5_ndcg, "recall": 1.0, "mrr": 0.5})
    [lexical] = result["methods"]
    assert lexical["method"] == "lexical" and lexical == pytest.approx(
        {"method": "lexical", "ndcg": (q3_ndcg + q5_ndcg) / 3, "recall": 2 / 3, "mrr": 0.5}
    )
    assert (result["queries"], result["k"], result["unknown_documents"]) == (3, 10, 0)


def test_evaluation_reads_trec_qrels_by_document_id_for_every_method(local) -> None:
    alice, target, ids = _judged_collection(local)
    qrels = f"p 0 {ids['pasta.md']} 1\np 0 {ids['garden.md']} 0\nm 0 {ids['market.md']} 1\nm 0 999999 1\n"
    body = {
        "queries": [
            {"id": "p", "query": "how long to cook pasta"},
            {"id": "m", "query": "stock market shares"},
            {"id": "unjudged", "query": "gardening"},
        ],
        "qrels": qrels,
    }
    answer = alice.post(f"/v1/collections/{target}/evaluate", json=body)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert [m["method"] for m in result["methods"]] == ["lexical", "semantic", "hybrid"]
    assert result["unknown_documents"] == 1  # 999999 is judged relevant but not in the collection
    assert result["skipped_queries"] == ["unjudged"] and result["queries"] == 2  # as trec_eval does
    for q in result["per_query"]:
        for method in ("lexical", "semantic", "hybrid"):
            assert q["retrieved"][method][0] == str(ids["pasta.md" if q["id"] == "p" else "market.md"])
    market_ndcg = 1 / (1 + 1 / math.log2(3))  # found first, but half the judged documents are absent
    for m in result["methods"]:
        assert m == pytest.approx(
            {"method": m["method"], "ndcg": (1 + market_ndcg) / 2, "recall": 0.75, "mrr": 1.0}
        )


def test_evaluation_refuses_other_users_collections_and_bad_input(local) -> None:
    alice, target, _ = _judged_collection(local)
    bob = member(local)
    one = {"queries": [{"id": "1", "query": "pasta", "relevant": ["pasta.md"]}], "match": "name"}
    assert bob.post(f"/v1/collections/{target}/evaluate", json=one).status_code == 404
    assert alice.post("/v1/collections/999999/evaluate", json=one).status_code == 404
    for bad, field in (
        ({"queries": []}, "queries"),
        ({**one, "k": 0}, "k"),
        ({**one, "methods": ["bogus"]}, "methods"),
        ({**one, "semantic_weight": 1.5}, "semantic_weight"),
        ({**one, "match": "title"}, "match"),
        ({**one, "surprise": 1}, "surprise"),
    ):
        refused = alice.post(f"/v1/collections/{target}/evaluate", json=bad)
        assert refused.status_code == 422 and field in refused.text, (bad, refused.text)
    unjudged = {"queries": [{"id": "1", "query": "pasta"}]}
    refused = alice.post(f"/v1/collections/{target}/evaluate", json=unjudged)
    assert refused.status_code == 422 and "relevant" in refused.text  # detail: the list of bad fields
    malformed = {**unjudged, "qrels": "1 0 2\n"}
    refused = alice.post(f"/v1/collections/{target}/evaluate", json=malformed)
    assert refused.status_code == 422 and "line 1" in refused.text
    nothing_judged = {**unjudged, "qrels": "2 0 pasta.md 1\n"}
    refused = alice.post(f"/v1/collections/{target}/evaluate", json=nothing_judged)
    assert refused.status_code == 422 and "qrels" in refused.text


def test_fusion_is_tunable_per_request_and_per_collection_and_validated(local) -> None:
    alice, target, _ = _judged_collection(local)
    query = {"query": "water for tomato plants", "collection_ids": [target], "limit": 3}

    def order(**extra) -> list[int]:
        response = alice.post("/v1/search", json={**query, **extra})
        assert response.status_code == 200, response.text
        return [h["chunk"]["id"] for h in response.json()["data"]]

    semantic, lexical = order(method="semantic"), order(method="lexical")
    assert order(method="hybrid", fusion="convex", semantic_weight=1.0) == semantic
    assert order(method="hybrid", fusion="convex", semantic_weight=0.0)[: len(lexical)] == lexical
    assert set(order(method="hybrid", rff_k=10)) == set(semantic) | set(lexical)  # RRF, as OpenGateLLM
    for bad in ({"semantic_weight": 2}, {"semantic_weight": -1}, {"fusion": "max"}):
        refused = alice.post("/v1/search", json={**query, "method": "hybrid", **bad})
        assert refused.status_code == 422 and next(iter(bad)) in refused.text
    # per collection: lexical-only weighting unless the request says otherwise
    changed = alice.patch(
        f"/v1/collections/{target}", json={"search": {"fusion": "convex", "semantic_weight": 0}}
    )
    assert changed.status_code == 204, changed.text
    assert alice.get(f"/v1/collections/{target}").json()["search"] == {
        "fusion": "convex",
        "semantic_weight": 0.0,
    }
    assert order(method="hybrid")[: len(lexical)] == lexical
    assert order(method="hybrid", semantic_weight=1.0) == semantic
    refused = alice.patch(f"/v1/collections/{target}", json={"search": {"semantic_weight": 7}})
    assert refused.status_code == 422 and "semantic_weight" in refused.text
    refused = alice.patch(f"/v1/collections/{target}", json={"search": {"weights": [1, 2]}})
    assert refused.status_code == 422 and "weights" in refused.text


def test_hybrid_search_can_rerank_through_a_rerank_model(local) -> None:
    alice, target, _ = _judged_collection(local)
    body = {"query": "how long to cook pasta", "collection_ids": [target], "method": "hybrid", "limit": 3}
    reranked = alice.post("/v1/search", json={**body, "rerank_model": "local-rerank"})
    assert reranked.status_code == 200, reranked.text
    hits = reranked.json()["data"]
    assert "pasta" in hits[0]["chunk"]["content"]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    unknown = alice.post("/v1/search", json={**body, "rerank_model": "no-such-model"})
    assert 400 <= unknown.status_code < 500, unknown.text


def test_cli_eval_prints_each_method(local, tmp_path) -> None:
    from typer.testing import CliRunner

    from lockgate.cli.main import app

    alice, target, _ = _judged_collection(local)
    queries = tmp_path / "queries.tsv"
    queries.write_text("p\thow long to cook pasta\nm\tstock market shares\n")
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("p 0 pasta.md 1\nm 0 market.md 1\n")
    key = alice.headers["authorization"].removeprefix("Bearer ")
    common = [
        "eval",
        "--collection",
        str(target),
        "--queries",
        str(queries),
        "--url",
        local.url,
        "--key",
        key,
    ]
    result = CliRunner().invoke(app, [*common, "--qrels", str(qrels), "--match", "name", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert {m["method"]: m["ndcg"] for m in answer["methods"]} == {
        "lexical": 1.0,
        "semantic": 1.0,
        "hybrid": 1.0,
    }
    refused = CliRunner().invoke(app, common)  # no judgments anywhere
    assert refused.exit_code == 1 and "422" in refused.output
