"""Retrieval metrics against values worked out by hand, and the TREC qrels reader."""

from __future__ import annotations

import math

import pytest

from lockgate.errors import InvalidRequest
from lockgate.rag.fusion import DEFAULT_FUSION, Fusion, convex_fusion, reciprocal_rank_fusion, search_settings
from lockgate.rag.metrics import Scores, mean, parse_qrels, score


def test_scores_match_hand_computed_values() -> None:
    # relevant: b (grade 3), d (grade 1); ranked: a b c d
    got = score(["a", "b", "c", "d"], {"b": 3.0, "d": 1.0}, k=10)
    dcg = 3 / math.log2(3) + 1 / math.log2(5)
    idcg = 3 / math.log2(2) + 1 / math.log2(3)
    assert got.ndcg == pytest.approx(dcg / idcg) and got.ndcg == pytest.approx(0.6399, abs=1e-4)
    assert (got.recall, got.mrr) == (1.0, 0.5)
    cut = score(["a", "b", "c", "d"], {"b": 3.0, "d": 1.0}, k=2)  # d falls outside the cut-off
    assert cut.ndcg == pytest.approx((3 / math.log2(3)) / idcg) and (cut.recall, cut.mrr) == (0.5, 0.5)
    assert score(["x", "y"], {"b": 1.0}, k=10) == Scores(0.0, 0.0, 0.0)
    assert score(["b"], {"b": 1.0}, k=1) == Scores(1.0, 1.0, 1.0)


def test_mean_is_over_queries() -> None:
    assert mean([Scores(1.0, 0.5, 1.0), Scores(0.0, 0.5, 0.5)]) == Scores(0.5, 0.5, 0.75)
    assert mean([]) == Scores(0.0, 0.0, 0.0)


def test_qrels_are_read_and_malformed_lines_named() -> None:
    text = "# judged\n1 0 d7 2\n1 0 d8 0\n2 Q0 d9 1\n\n"
    assert parse_qrels(text) == {"1": {"d7": 2.0}, "2": {"d9": 1.0}}
    with pytest.raises(InvalidRequest, match="line 2"):
        parse_qrels("1 0 d7 1\n1 d8 1\n")
    with pytest.raises(InvalidRequest, match="line 1"):
        parse_qrels("1 0 d7 high\n")


def test_convex_fusion_weights_normalised_scores() -> None:
    semantic = [(1, 0.9), (2, 0.5), (3, 0.1)]  # normalised: 1.0, 0.5, 0.0
    lexical = [(3, 12.0), (4, 2.0)]  # normalised: 1.0, 0.0
    fused = dict(convex_fusion(semantic, lexical, 0.5))
    assert fused == pytest.approx({1: 0.5, 2: 0.25, 3: 0.5, 4: 0.0})
    assert [c for c, _ in convex_fusion(semantic, lexical, 1.0)][:3] == [1, 2, 3]
    assert next(c for c, _ in convex_fusion(semantic, lexical, 0.0)) == 3
    assert convex_fusion([], [(5, 1.0)], 0.5) == [(5, 0.5)]  # a single candidate counts as the best


def test_rrf_is_unchanged() -> None:
    fused = reciprocal_rank_fusion([[(1, 0.9), (2, 0.5)], [(2, 3.0), (3, 1.0)]], k=60)
    assert [c for c, _ in fused] == [2, 1, 3]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


def test_fusion_settings_are_validated_and_layered() -> None:
    assert DEFAULT_FUSION.method == "convex"
    tuned = DEFAULT_FUSION.with_settings({"semantic_weight": 0.7}, "").with_settings({"rff_k": 10}, "")
    assert tuned == Fusion("rrf", 0.7, 10, None)  # an explicit RRF constant asks for RRF
    assert (
        DEFAULT_FUSION.with_settings({"rerank_model": "r"}, "").with_settings({"rerank_model": ""}, "")
        == DEFAULT_FUSION
    )
    for bad in (
        {"semantic_weight": 1.5},
        {"semantic_weight": -0.1},
        {"semantic_weight": "0.5"},
        {"fusion": "max"},
        {"rff_k": -1},
    ):
        with pytest.raises(InvalidRequest) as refused:
            DEFAULT_FUSION.with_settings(bad, "")
        assert refused.value.param in bad
    with pytest.raises(InvalidRequest, match="weights"):
        search_settings({"weights": 1})
    assert search_settings({"fusion": "rrf", "rff_k": None}) == {"fusion": "rrf"}
