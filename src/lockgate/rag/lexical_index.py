"""Per-process BM25 index of both stores: each collection's chunk lengths, and the postings of its
terms (all at once, or each once a query has asked for it), as numpy arrays. A query then costs a few
vector additions instead of the database scoring every matching chunk (542 ms on PostgreSQL, 239 ms on
SQLite at 100k chunks where every chunk matches: bench/rag_scale.py). Entries are versioned like the
vector cache (`vectors`): a collection's `vectors_version` moves on every chunk write or delete, so a
stale entry is reloaded, and one found deleted is dropped. Both stores score with FTS5's bm25()
(`fts5_index`) over FTS5's terms: SQLite with FTS5's table-wide statistics, PostgreSQL with those of
the collections searched (`bm25_top`); both sum the same per-term contributions (`rank`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.rag import repository
from lockgate.rag.fts5_index import fts5_idf

BM25_K1 = 1.2
BM25_B = 0.75
POSTING_BYTES = 24  # row (int64), tf and saturated tf (float64)


@dataclass(slots=True)
class Postings:
    rows: np.ndarray  # int64 positions into the collection's `ids`
    tf: np.ndarray  # float64 term frequency in each of those chunks
    # tf·(k1 + 1) / (tf + k1·(1 - b + b·length / average)) for the average length last searched with
    # (a collection searched alone always has the same one): BM25 without the idf.
    saturated: np.ndarray | None = None
    average: float = -1.0

    def saturation(self, lengths: np.ndarray, average: float) -> np.ndarray:
        if self.saturated is None or self.average != average:
            norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[self.rows] / max(average, 1e-9))
            self.saturated = self.tf * (BM25_K1 + 1) / (self.tf + norm)
            self.average = average
        return self.saturated


@dataclass(slots=True)
class CollectionTerms:
    version: tuple[int, int]
    ids: np.ndarray  # int64 chunk ids, ascending
    lengths: np.ndarray  # float64 index terms per chunk
    postings: dict[str, Postings] = field(default_factory=dict)
    complete: bool = False  # every term's postings are loaded: a term not in `postings` is in no chunk

    def postings_of(self, chunk_ids: np.ndarray, tf: np.ndarray) -> Postings:
        """A term's postings from its chunk ids and frequencies. A chunk written after the lengths were
        read is not in this entry: its version moved, so the next search reloads the collection; this
        one ranks what the entry holds."""
        if not len(self.ids):
            return Postings(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
        rows = np.minimum(np.searchsorted(self.ids, chunk_ids), len(self.ids) - 1)
        known = self.ids[rows] == chunk_ids
        return Postings(rows[known], tf[known])

    def carry_over(self, old: CollectionTerms) -> np.ndarray:
        """Take over `old`'s postings of the chunks both entries hold with the same length (a chunk's
        text never changes under its id, and ids are never reused), so a write costs what it changed;
        return the ids of this entry's chunks whose postings must still be added (`add`)."""
        self.complete = old.complete
        if not len(self.ids):
            return self.ids
        at = np.minimum(np.searchsorted(self.ids, old.ids), len(self.ids) - 1)
        same = (self.ids[at] == old.ids) & (self.lengths[at] == old.lengths)
        moved = np.where(same, at, -1)
        held = np.zeros(len(self.ids), dtype=bool)
        held[at[same]] = True
        for term, p in old.postings.items():
            rows = moved[p.rows]
            keep = rows >= 0
            if not old.complete or keep.any():  # an incomplete entry also knows which terms are absent
                self.postings[term] = Postings(rows[keep], p.tf[keep])
        return self.ids[~held]

    def add(self, term: str, chunk_ids: np.ndarray, tf: np.ndarray) -> None:
        """Postings of chunks new to this entry (see `carry_over`). A term an incomplete entry has not
        loaded is skipped: the first query asking for it loads all of its postings."""
        found = self.postings.get(term)
        if found is None and not self.complete:
            return
        extra = self.postings_of(chunk_ids, tf)
        if found is not None:
            extra = Postings(np.concatenate([found.rows, extra.rows]), np.concatenate([found.tf, extra.tf]))
        self.postings[term] = extra

    def postings_for(self, term: str) -> Postings:
        found = self.postings.get(term)
        if found is None:  # only a complete entry is asked for a term it has not loaded
            return Postings(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
        return found

    @property
    def nbytes(self) -> int:
        return (
            self.ids.nbytes
            + self.lengths.nbytes
            + POSTING_BYTES * sum(len(p.rows) for p in self.postings.values())
        )


class LexicalCache:
    def __init__(self, max_bytes: int = 512 << 20):
        self._entries: dict[int, CollectionTerms] = {}
        self._max_bytes = max_bytes

    def get(self, collection_id: int, version: tuple[int, int]) -> CollectionTerms | None:
        entry = self._entries.get(collection_id)
        return entry if entry is not None and entry.version == version else None

    def fits_whole(self, entry: CollectionTerms) -> bool:
        """Whether all of the entry's postings (at most one per indexed term) may be loaded at once:
        within half the cap, so one collection cannot push out every other."""
        return float(entry.lengths.sum()) * POSTING_BYTES <= self._max_bytes / 2

    def forget(self, collection_id: int) -> None:
        self._entries.pop(collection_id, None)

    def refresh(
        self, collection_id: int, version: tuple[int, int], ids: np.ndarray, lengths: np.ndarray
    ) -> tuple[CollectionTerms, np.ndarray]:
        """A new entry for the collection's chunks now (`ids`, their `lengths`, any order), and the ids
        of the chunks whose postings it lacks: an older entry of the same collection hands over the
        postings of the chunks it held, unless the collection changed by more than half (then it is
        cheaper to load it again). Stored by `put` once its postings are added."""
        order = np.argsort(ids, kind="stable")
        entry = CollectionTerms(version, ids[order], lengths[order])
        old = self._entries.get(collection_id)
        if old is None or old.version[0] != version[0]:  # no entry, or another collection under its id
            return entry, entry.ids
        added = entry.carry_over(old)
        if 2 * len(added) > len(entry.ids):
            entry = CollectionTerms(version, entry.ids, entry.lengths)
            return entry, entry.ids
        return entry, added

    def put(self, collection_id: int, entry: CollectionTerms) -> None:
        self._entries.pop(collection_id, None)
        self._entries[collection_id] = entry  # the newest last: `trim` drops the oldest first
        self.trim(keep=collection_id)

    def trim(self, keep: int) -> None:
        while sum(e.nbytes for e in self._entries.values()) > self._max_bytes and len(self._entries) > 1:
            oldest = next(iter(self._entries))
            if oldest == keep:
                break
            self._entries.pop(oldest)


# How a store fills an entry: a new one for (collection id, version), or the postings of terms.
Refresh = Callable[[AsyncSession, int, tuple[int, int]], Awaitable[CollectionTerms]]
LoadTerms = Callable[[AsyncSession, int, CollectionTerms, list[str]], Awaitable[None]]


async def cached_terms(
    cache: LexicalCache,
    session: Callable[[], Awaitable[AsyncSession]],
    collection_ids: list[int],
    versions: dict[int, tuple[int, int]] | None,
    wanted: list[str],
    refresh: Refresh,
    load_terms: LoadTerms,
) -> list[CollectionTerms]:
    """Each collection's entry in `cache` with the postings of `wanted` loaded, for both stores: the
    collections' versions (`versions` if already read with the access check, else read now), a deleted
    collection forgotten (its postings must never serve anything again), a missing or stale entry
    rebuilt by `refresh`, terms an incomplete entry lacks read by `load_terms`. `session()` opens the
    database only when one of these must read it."""
    if versions is None:
        versions = await repository.vector_versions(await session(), collection_ids)
    for gone in set(collection_ids) - set(versions):
        cache.forget(gone)
    entries = []
    for collection_id, version in versions.items():
        entry = cache.get(collection_id, version)
        if entry is None:
            entry = await refresh(await session(), collection_id, version)
        missing = [t for t in dict.fromkeys(wanted) if t not in entry.postings]
        if missing and not entry.complete:
            await load_terms(await session(), collection_id, entry, missing)
        entries.append(entry)
    cache.trim(keep=-1)
    return entries


def bm25_top(entries: list[CollectionTerms], phrases: list[str], limit: int) -> list[tuple[int, float]]:
    """(chunk id, BM25 as FTS5's bm25() computes it), best first, ties by chunk id, at most `limit`;
    only chunks holding at least one of `phrases` (the query's terms in order, repeats included, whose
    postings must be loaded in every entry). The chunk count, average length and document frequencies
    are those of the collections in `entries`."""
    total = sum(len(e.ids) for e in entries)
    if not total:
        return []
    avg_length = float(sum(float(e.lengths.sum()) for e in entries)) / total
    frequencies = {t: sum(len(e.postings_for(t).rows) for e in entries) for t in dict.fromkeys(phrases)}
    weighted = [(t, fts5_idf(total, frequencies[t])) for t in phrases if frequencies[t]]
    return rank(entries, weighted, avg_length, limit)


def rank(
    entries: list[CollectionTerms], weighted: list[tuple[str, float]], avg_length: float, limit: int
) -> list[tuple[int, float]]:
    """(chunk id, score), best first, ties by chunk id, at most `limit`, for the chunks holding at least
    one term of `weighted`: each chunk's score sums, in the order of `weighted` (a term may come twice),
    the term's weight (idf) times its saturated frequency in the chunk — BM25 given its statistics."""
    if not weighted or not entries:
        return []
    found_ids, found_scores = [], []
    for entry in entries:
        scores = np.zeros(len(entry.ids), dtype=np.float64)
        for term, weight in weighted:
            p = entry.postings_for(term)
            scores[p.rows] += weight * p.saturation(entry.lengths, avg_length)
        hit = np.flatnonzero(scores > 0)
        found_ids.append(entry.ids[hit])
        found_scores.append(scores[hit])
    ids, scores = np.concatenate(found_ids), np.concatenate(found_scores)
    if not len(ids):
        return []
    if len(ids) > limit:  # keep every chunk tied with the limit-th score, so ties break by id below
        cut = np.partition(-scores, limit - 1)[limit - 1]
        keep = np.flatnonzero(-scores <= cut)
        ids, scores = ids[keep], scores[keep]
    order = np.lexsort((ids, -scores))[:limit]
    return [(int(ids[i]), float(scores[i])) for i in order]
