"""Ranking: cosine similarity (exact, numpy), BM25 (the store), and Reciprocal Rank Fusion keyed by
the chunk's own id and paginated after fusion."""

from __future__ import annotations

import numpy as np


def cosine_top(
    query: list[float], rows: list[tuple[int, bytes]], limit: int, threshold: float
) -> list[tuple[int, float]]:
    """Chunk ids by cosine similarity (vectors are unit length, so a dot product), best first."""
    if not rows:
        return []
    matrix = np.frombuffer(b"".join(blob for _, blob in rows), dtype=np.float32).reshape(len(rows), -1)
    q = np.asarray(query, dtype=np.float32)
    q /= np.linalg.norm(q) or 1.0
    scores = matrix @ q
    order = np.argsort(-scores)[:limit]
    return [(rows[i][0], float(scores[i])) for i in order if scores[i] >= threshold]


def reciprocal_rank_fusion(rankings: list[list[tuple[int, float]]], k: int) -> list[tuple[int, float]]:
    """Σ 1/(k + rank) over the rankings a chunk appears in; ties broken by chunk id for stable pages."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (chunk_id, _) in enumerate(ranking, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def to_blob(vector: list[float]) -> bytes:
    array = np.asarray(vector, dtype=np.float32)
    norm = np.linalg.norm(array)
    return (array / norm if norm else array).tobytes()
