"""Per-process cache of each collection's vectors as one matrix, so a semantic search is a matrix product
instead of reading every vector from the database. A collection's `vectors_version` moves on every chunk
write or delete (in the same transaction), so every replica sees a stale entry and reloads it. Entries
are keyed by collection id, which is never reused (AUTOINCREMENT), and versioned by (created,
vectors_version); a collection found deleted is dropped at once, and others age out by size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)
class CachedVectors:
    version: tuple[int, int]
    ids: np.ndarray  # int64 chunk ids
    matrix: np.ndarray  # float32, one unit vector per row


class VectorCache:
    def __init__(self, max_bytes: int = 1 << 30):
        self._entries: dict[int, CachedVectors] = {}
        self._max_bytes = max_bytes

    def get(self, collection_id: int, version: tuple[int, int]) -> CachedVectors | None:
        entry = self._entries.get(collection_id)
        return entry if entry is not None and entry.version == version else None

    def forget(self, collection_id: int) -> None:
        self._entries.pop(collection_id, None)

    def put(
        self, collection_id: int, version: tuple[int, int], rows: list[tuple[int, bytes]]
    ) -> CachedVectors:
        if rows:
            matrix = np.frombuffer(b"".join(blob for _, blob in rows), dtype=np.float32).reshape(
                len(rows), -1
            )
        else:
            matrix = np.zeros((0, 0), dtype=np.float32)
        entry = CachedVectors(
            version, np.fromiter((i for i, _ in rows), dtype=np.int64, count=len(rows)), matrix
        )
        self._entries[collection_id] = entry
        while (
            sum(e.matrix.nbytes for e in self._entries.values()) > self._max_bytes and len(self._entries) > 1
        ):
            oldest = next(iter(self._entries))
            if oldest == collection_id:
                break
            self._entries.pop(oldest)
        return entry


def top_k(
    query: list[float], entries: list[CachedVectors], limit: int, threshold: float
) -> list[tuple[int, float]]:
    """Chunk ids by cosine similarity across the cached collections, best first."""
    q = np.asarray(query, dtype=np.float32)
    q /= np.linalg.norm(q) or 1.0
    scored_ids, scored = [], []
    for entry in entries:
        if len(entry.ids) and entry.matrix.shape[1] == q.shape[0]:
            scored_ids.append(entry.ids)
            scored.append(entry.matrix @ q)
    if not scored:
        return []
    ids, scores = np.concatenate(scored_ids), np.concatenate(scored)
    count = min(limit, len(scores))
    best = np.argpartition(-scores, count - 1)[:count]
    best = best[np.argsort(-scores[best])]
    return [(int(ids[i]), float(scores[i])) for i in best if scores[i] >= threshold]
