"""Retrieval metrics over a ranked list of documents and graded judgments, as trec_eval computes them:
nDCG@k with linear gains (grade / log2(rank + 1)), recall@k, and reciprocal rank of the first relevant
document within the first k (its mean over queries is MRR@k)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lockgate.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class Scores:
    ndcg: float  # nDCG@k, 0..1
    recall: float  # recall@k, 0..1
    mrr: float  # reciprocal rank of the first relevant document in the top k (0 when none), 0..1


def score(ranked: list[str], relevant: dict[str, float], k: int) -> Scores:
    """`ranked`: document keys best first (only the first k count); `relevant`: key → grade > 0."""
    top = ranked[:k]
    dcg = sum(relevant.get(key, 0.0) / math.log2(rank + 1) for rank, key in enumerate(top, start=1))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(grade / math.log2(rank + 1) for rank, grade in enumerate(ideal, start=1))
    found = sum(1 for key in top if key in relevant)
    first = next((rank for rank, key in enumerate(top, start=1) if key in relevant), None)
    return Scores(
        ndcg=dcg / idcg if idcg else 0.0,
        recall=found / len(relevant) if relevant else 0.0,
        mrr=1.0 / first if first else 0.0,
    )


def mean(scores: list[Scores]) -> Scores:
    if not scores:
        return Scores(0.0, 0.0, 0.0)
    n = len(scores)
    return Scores(
        sum(s.ndcg for s in scores) / n, sum(s.recall for s in scores) / n, sum(s.mrr for s in scores) / n
    )


def parse_qrels(text: str) -> dict[str, dict[str, float]]:
    """TREC qrels (`query-id iteration document-id grade` per line, whitespace separated) → query id →
    {document key: grade}; grades ≤ 0 (judged not relevant) are dropped. InvalidRequest names the
    first malformed line."""
    judged: dict[str, dict[str, float]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            if len(fields) != 4:
                raise ValueError
            grade = float(fields[3])
            if not math.isfinite(grade):
                raise ValueError
        except ValueError as exc:
            raise InvalidRequest(
                f"qrels: line {number} is not 'query-id iteration document-id grade'.", param="qrels"
            ) from exc
        if grade > 0:
            judged.setdefault(fields[0], {})[fields[2]] = grade
    return judged
