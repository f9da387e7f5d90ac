"""How hybrid search merges its two rankings: Reciprocal Rank Fusion (OpenGateLLM's), or a convex
combination of min-max normalised scores (the default: better on CISI, bench/README.md), optionally
followed by a rerank model. Settings come from the request, else the collection, else the defaults."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from lockgate.errors import InvalidRequest

FusionMethod = Literal["rrf", "convex"]
FUSION_METHODS: tuple[str, ...] = ("rrf", "convex")
RERANK_CANDIDATES = 50  # hits handed to a rerank model at most (cost grows with every one)


@dataclass(frozen=True, slots=True)
class Fusion:
    """`semantic_weight` w ∈ [0, 1]: convex score = w·semantic + (1 - w)·lexical, each min-max
    normalised over the query's candidates (a chunk missing from one ranking scores 0 there). `rrf_k`:
    RRF's constant, score = Σ 1/(k + rank). `rerank_model`: a /v1/rerank model that reorders the fused
    candidates, or None."""

    method: FusionMethod = "convex"
    semantic_weight: float = 0.7  # chosen on CISI: bench/README.md, ADR 0014
    rrf_k: int = 60
    rerank_model: str | None = None

    def with_settings(self, settings: dict[str, Any], where: str) -> Fusion:
        """These settings with `settings` (a request's or a collection's) laid over them, validated:
        InvalidRequest naming the field when a value is out of range."""
        fusion = self
        if settings.get("fusion") is not None:
            if settings["fusion"] not in FUSION_METHODS:
                raise InvalidRequest(
                    f"{where}fusion: use one of {', '.join(FUSION_METHODS)}.", param="fusion"
                )
            fusion = replace(fusion, method=settings["fusion"])
        weight = settings.get("semantic_weight")
        if weight is not None:
            if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0.0 <= weight <= 1.0:
                raise InvalidRequest(
                    f"{where}semantic_weight: a number from 0 (lexical only) to 1 (semantic only).",
                    param="semantic_weight",
                )
            fusion = replace(fusion, semantic_weight=float(weight))
        k = settings.get("rff_k")
        if k is not None:
            if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= 16384:
                raise InvalidRequest(f"{where}rff_k: an integer from 0 to 16384.", param="rff_k")
            fusion = replace(fusion, rrf_k=k)
            if settings.get("fusion") is None:  # an explicit RRF constant asks for RRF (OpenGateLLM's)
                fusion = replace(fusion, method="rrf")
        model = settings.get("rerank_model")
        if model is not None:
            if not isinstance(model, str) or len(model) > 255:
                raise InvalidRequest(f"{where}rerank_model: a model name.", param="rerank_model")
            fusion = replace(fusion, rerank_model=model or None)  # "" turns a collection's rerank off
        return fusion


DEFAULT_FUSION = Fusion()


def search_settings(raw: Any) -> dict[str, Any]:
    """A collection's stored `search` settings, validated (422 naming the field): the keys `fusion`,
    `semantic_weight`, `rff_k` and `rerank_model`, each optional."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidRequest(
            "search: an object with fusion, semantic_weight, rff_k, rerank_model.", param="search"
        )
    unknown = set(raw) - {"fusion", "semantic_weight", "rff_k", "rerank_model"}
    if unknown:
        raise InvalidRequest(f"search: unknown field(s) {', '.join(sorted(unknown))}.", param="search")
    DEFAULT_FUSION.with_settings(raw, "search.")
    return {k: v for k, v in raw.items() if v is not None}


def reciprocal_rank_fusion(rankings: list[list[tuple[int, float]]], k: int) -> list[tuple[int, float]]:
    """Σ 1/(k + rank) over the rankings a chunk appears in; ties broken by chunk id for stable pages."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (chunk_id, _) in enumerate(ranking, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def _normalised(ranking: list[tuple[int, float]]) -> dict[int, float]:
    """Scores mapped onto [0, 1] by min-max over this ranking (all 1.0 when they are all equal)."""
    if not ranking:
        return {}
    scores = [score for _, score in ranking]
    low, high = min(scores), max(scores)
    span = high - low
    return {chunk_id: (score - low) / span if span > 0 else 1.0 for chunk_id, score in ranking}


def convex_fusion(
    semantic: list[tuple[int, float]], lexical: list[tuple[int, float]], semantic_weight: float
) -> list[tuple[int, float]]:
    """w·norm(semantic) + (1 - w)·norm(lexical), best first, ties broken by chunk id."""
    dense, sparse = _normalised(semantic), _normalised(lexical)
    fused = {
        chunk_id: semantic_weight * dense.get(chunk_id, 0.0)
        + (1 - semantic_weight) * sparse.get(chunk_id, 0.0)
        for chunk_id in dense.keys() | sparse.keys()
    }
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def fuse(
    semantic: list[tuple[int, float]], lexical: list[tuple[int, float]], fusion: Fusion
) -> list[tuple[int, float]]:
    if fusion.method == "rrf":
        return reciprocal_rank_fusion([semantic, lexical], fusion.rrf_k)
    return convex_fusion(semantic, lexical, fusion.semantic_weight)
