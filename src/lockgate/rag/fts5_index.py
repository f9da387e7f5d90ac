"""What the SQLite store needs to rank from the per-process index (`lexical_index`) exactly as FTS5's
`bm25()` ranks: the query's terms as FTS5's own tokenizer makes them, FTS5's table-wide statistics
(row count, token count, rows holding each term), its idf, and postings read from its `fts5vocab`
tables. FTS5's bm25 (sqlite/ext/fts5/fts5_aux.c) sums, over the query's phrases in order,
idf · tf·(k1 + 1) / (tf + k1·(1 - b + b·D/avgdl)) with k1 1.2, b 0.75, idf = log((N - n + 0.5) /
(n + 0.5)) floored at 1e-6, N and avgdl those of the whole table and n the rows holding the phrase.
The PostgreSQL store indexes and ranks with the same tokenizer and formula (ADR 0026)."""

from __future__ import annotations

import asyncio
import math
import re
import sqlite3
import threading
from collections import OrderedDict

import numpy as np

FTS5_MIN_IDF = 1e-6
CHUNKS_TOKENIZE = "porter unicode61"  # the chunks' FTS5 index on SQLite (migration 0005)
WORD = re.compile(r"\w+", re.UNICODE)  # a query's words, each quoted as one FTS5 phrase
_TOKENIZE = re.compile(r"tokenize\s*=\s*'((?:[^']|'')*)'", re.IGNORECASE)


def tokenizer_of(create_sql: str) -> str:
    """The `tokenize` option of an FTS5 table from its CREATE statement ('unicode61' if none)."""
    found = _TOKENIZE.search(create_sql)
    return found.group(1).replace("''", "'") if found else "unicode61"


def _fts5_table(tokenize: str) -> sqlite3.Connection:
    """A private in-memory FTS5 table `words` with these tokenizer options, and its instance view."""
    db = sqlite3.connect(":memory:", check_same_thread=False)
    quoted = tokenize.replace("'", "''")
    db.execute(f"CREATE VIRTUAL TABLE words USING fts5(word, tokenize='{quoted}')")
    db.execute("CREATE VIRTUAL TABLE words_instance USING fts5vocab(words, instance)")
    return db


class Fts5Tokenizer:
    """Text → FTS5 tokens, made by FTS5 itself (same SQLite library, same tokenizer options as the
    chunks' index) in private in-memory databases, so stemming and case or diacritic folding are
    exactly the index's. Words' tokens are kept (a word always gives the same), up to `max_words`;
    `tokens` runs on the event loop (a query's few words), `postings` in worker threads, one at a time
    (a write's chunks: long enough to stall the loop)."""

    def __init__(self, tokenize: str, max_words: int = 50_000):
        self._words = _fts5_table(tokenize)
        self._texts = _fts5_table(tokenize)
        self._texts_lock = threading.Lock()
        self._known: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._max_words = max_words

    def tokens(self, words: list[str]) -> list[tuple[str, ...]]:
        new = [w for w in dict.fromkeys(words) if w not in self._known]
        if new:
            with self._words:
                self._words.execute("DELETE FROM words")
                self._words.executemany("INSERT INTO words(rowid, word) VALUES (?, ?)", enumerate(new))
                found: dict[int, list[str]] = {}
                for term, doc in self._words.execute(
                    "SELECT term, doc FROM words_instance ORDER BY doc, offset"
                ):
                    found.setdefault(doc, []).append(term)
            for i, word in enumerate(new):
                self._known[word] = tuple(found.get(i, ()))
        # read before evicting: a query with more distinct words than the cache holds evicts its own
        result = [self._known[w] for w in words]
        while len(self._known) > self._max_words:
            self._known.popitem(last=False)
        return result

    async def postings(self, chunks: list[tuple[int, str]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Term → (chunk ids ascending, frequency in each) over these (chunk id, text) — what FTS5 put
        in the chunks' index when the trigger inserted the same text."""
        return await asyncio.to_thread(self._postings, chunks)

    def _postings(self, chunks: list[tuple[int, str]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        found: dict[str, tuple[list[int], list[int]]] = {}
        with self._texts_lock, self._texts:
            self._texts.execute("DELETE FROM words")
            self._texts.executemany("INSERT INTO words(rowid, word) VALUES (?, ?)", chunks)
            for term, doc, tf in self._texts.execute(
                "SELECT term, doc, count(*) FROM words_instance GROUP BY term, doc ORDER BY term, doc"
            ):
                ids, tfs = found.setdefault(term, ([], []))
                ids.append(doc)
                tfs.append(tf)
            self._texts.execute("DELETE FROM words")
        return {
            t: (np.asarray(ids, dtype=np.int64), np.asarray(tfs, dtype=np.float64))
            for t, (ids, tfs) in found.items()
        }


def varint(blob: bytes, start: int = 0) -> tuple[int, int]:
    """An SQLite varint (big-endian 7-bit groups, the ninth byte whole) at `start`: (value, next)."""
    value = 0
    for i in range(start, min(start + 9, len(blob))):
        byte = blob[i]
        if i == start + 8:
            return (value << 8) | byte, i + 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, i + 1
    return value, len(blob)


def averages(block: bytes | None) -> tuple[int, int]:
    """(rows, tokens) of the whole FTS5 table from its averages record (`%_data` row 1): the row
    count, then the token count of each column (one column here)."""
    if not block:
        return 0, 0
    rows, at = varint(block)
    tokens, _ = varint(block, at)
    return rows, tokens


def fts5_idf(rows: int, hits: int) -> float:
    idf = math.log((rows - hits + 0.5) / (hits + 0.5))
    return idf if idf > 0.0 else FTS5_MIN_IDF


def postings_from_instances(docs: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(chunk ids ascending, frequency of the term in each) from the comma-separated doc of each of a
    term's instances (one per occurrence, as `fts5vocab` 'instance' lists them)."""
    if not docs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    found = np.array(docs.split(","), dtype=np.int64)
    ids, tf = np.unique(found, return_counts=True)
    return ids, tf.astype(np.float64)
