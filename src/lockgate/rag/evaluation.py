"""Retrieval evaluation on a caller's own collection: run judged queries through each search method and
score the ranked documents (nDCG@k, recall@k, MRR@k) per method and per query."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lockgate.accounting.service import CallContext
from lockgate.errors import InvalidRequest
from lockgate.kit.db import Database
from lockgate.rag import repository
from lockgate.rag.fusion import Fusion, fuse
from lockgate.rag.metrics import Scores, mean, parse_qrels, score
from lockgate.rag.schemas import SearchScope
from lockgate.rag.service import RagService

Method = Literal["lexical", "semantic", "hybrid"]
MAX_QUERIES = 1000  # one synchronous request; beyond that, split the set


@dataclass(frozen=True, slots=True)
class JudgedQuery:
    id: str
    text: str
    relevant: dict[str, float] | None  # document key → grade > 0; None: take it from the qrels


@dataclass(frozen=True, slots=True)
class QueryResult:
    id: str
    relevant: int
    scores: dict[str, Scores]  # method → scores
    retrieved: dict[str, list[str]]  # method → the top-k document keys


@dataclass(slots=True)
class Evaluation:
    collection_id: int
    k: int
    match: str
    fusion: Fusion
    methods: dict[str, Scores] = field(default_factory=dict)  # method → mean over queries
    queries: list[QueryResult] = field(default_factory=list)
    unknown_documents: int = 0  # judged documents absent from the collection (still count as missed)
    skipped: list[str] = field(default_factory=list)  # queries the qrels do not judge


def _judgments(
    queries: list[JudgedQuery], qrels: str | None
) -> tuple[list[tuple[JudgedQuery, dict[str, float]]], list[str]]:
    """(query, relevant documents) pairs, and the ids of queries the qrels do not judge (skipped, as
    trec_eval does). A query with neither `relevant` nor qrels, or left with no relevant document, is
    InvalidRequest (422) naming it."""
    from_qrels = parse_qrels(qrels) if qrels is not None else {}
    judged, skipped = [], []
    for i, query in enumerate(queries):
        if query.relevant is None and qrels is not None and query.id not in from_qrels:
            skipped.append(query.id)
            continue
        relevant = query.relevant if query.relevant is not None else from_qrels.get(query.id)
        relevant = {key: grade for key, grade in (relevant or {}).items() if grade > 0}
        if not relevant:
            raise InvalidRequest(
                f"queries[{i}]: query '{query.id}' has no relevant document (give 'relevant' or qrels).",
                param=f"queries.{i}.relevant",
            )
        judged.append((query, relevant))
    if not judged:
        raise InvalidRequest("qrels: no line judges any of the queries.", param="qrels")
    return judged, skipped


def _documents(
    ranking: list[tuple[int, float]], keys: dict[int, str], chunk_documents: dict[int, int]
) -> list[str]:
    """Chunk ranking → document keys in order of each document's best chunk."""
    seen: dict[str, None] = {}
    for chunk_id, _ in ranking:
        document_id = chunk_documents.get(chunk_id)
        if document_id is not None:
            seen.setdefault(keys[document_id], None)
    return list(seen)


class Evaluator:
    def __init__(self, db: Database, rag: RagService):
        self._db = db
        self._rag = rag

    async def evaluate(
        self,
        ctx: CallContext,
        collection_id: int,
        queries: list[JudgedQuery],
        qrels: str | None = None,
        methods: list[Method] | None = None,
        k: int = 10,
        match: Literal["id", "name"] = "id",
        fusion: dict[str, Any] | None = None,
    ) -> Evaluation:
        """Scores per method and per query. 404 if the caller cannot read the collection; 422 naming
        the field for a query without judgments or malformed qrels. `match`: relevant document keys
        are Lockgate document ids ("id") or document names ("name"). `fusion` tunes hybrid as in a
        search request (fusion, semantic_weight, rff_k, rerank_model)."""
        methods = list(dict.fromkeys(methods or ["lexical", "semantic", "hybrid"]))
        if len(queries) > MAX_QUERIES:
            raise InvalidRequest(f"queries: at most {MAX_QUERIES} per evaluation.", param="queries")
        await self._rag.get_collection(ctx.principal, collection_id)  # 404 unless readable
        judged, skipped = _judgments(queries, qrels)
        tuning = await self._rag.retriever.fusion_for(collection_id, fusion or {})
        async with self._db.transaction() as session:
            names = await repository.document_names_in(session, collection_id)
        keys = {
            document_id: (name if match == "name" else str(document_id))
            for document_id, name in names.items()
        }
        known = set(keys.values())
        result = Evaluation(collection_id, k, match, tuning, skipped=skipped)
        result.unknown_documents = len({key for _, rel in judged for key in rel} - known)
        pool = max(100, 10 * k)
        scope = SearchScope([collection_id])
        wants = "hybrid" if "hybrid" in methods or {"lexical", "semantic"} <= set(methods) else methods[0]
        for query, relevant in judged:
            semantic, lexical, _ = await self._rag.retriever.rankings(ctx, query.text, scope, wants, pool)
            rankings = {"semantic": semantic, "lexical": lexical}
            if "hybrid" in methods:
                hybrid = fuse(semantic, lexical, tuning)
                if tuning.rerank_model:
                    hybrid, _ = await self._rag.retriever.reranked(
                        ctx, query.text, hybrid, tuning.rerank_model, k
                    )
                rankings["hybrid"] = hybrid
            async with self._db.transaction() as session:
                owners = await repository.chunk_documents(
                    session, list({c for m in methods for c, _ in rankings[m]})
                )
            retrieved: dict[str, list[str]] = {m: _documents(rankings[m], keys, owners)[:k] for m in methods}
            result.queries.append(
                QueryResult(
                    query.id,
                    len(relevant),
                    {m: score(retrieved[m], relevant, k) for m in methods},
                    retrieved,
                )
            )
        result.methods = {m: mean([q.scores[m] for q in result.queries]) for m in methods}
        return result
