"""Terms for the BM25 index used where the database has no BM25 of its own (PostgreSQL): lower-cased
words, English stop words removed, Snowball (Porter 2) stems."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Protocol

_WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    "a about above after again against all am an and any are as at be because been before being below "
    "between both but by can did do does doing down during each few for from further had has have having he "
    "her here hers herself him himself his how i if in into is it its itself just me more most my myself no "
    "nor not now "
    "of off on once only or other our ours ourselves out over own same she should so some such than that the "
    "their theirs them themselves then there these they this those through to too under until up very was we "
    "were what when where which while who whom why will with you your yours yourself yourselves".split()
)


class _Stemmer(Protocol):
    """The part of a snowballstemmer stemmer used here (the library ships no types)."""

    def stemWords(self, words: list[str]) -> list[str]: ...


@lru_cache(maxsize=1)
def _stemmer() -> _Stemmer:
    import snowballstemmer

    stemmer: _Stemmer = snowballstemmer.stemmer("english")
    return stemmer


def terms(text: str) -> Counter[str]:
    words = [w for w in (m.lower() for m in _WORD.findall(text)) if w not in STOPWORDS and len(w) <= 64]
    return Counter(t[:64] for t in _stemmer().stemWords(words))


def query_terms(text: str) -> list[str]:
    return sorted(terms(text))
