"""Ranking helpers: exact cosine similarity (numpy) and the unit-length float32 form vectors are
stored in. Fusion of rankings is `fusion`'s."""

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


def to_blob(vector: list[float]) -> bytes:
    array = np.asarray(vector, dtype=np.float32)
    norm = np.linalg.norm(array)
    return (array / norm if norm else array).tobytes()
