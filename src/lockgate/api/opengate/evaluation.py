"""POST /v1/collections/{collection_id}/evaluate: retrieval metrics on the caller's own judgments."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from lockgate.api.deps import Context, DbId, State
from lockgate.api.opengate.rag_schemas import (
    EvaluateRequest,
    EvaluationOut,
    FusionOut,
    MethodScoresOut,
    QueryScoresOut,
    ScoresOut,
)
from lockgate.rag.evaluation import JudgedQuery

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.post("/{collection_id}/evaluate", response_model=EvaluationOut)
async def evaluate_collection(
    collection_id: DbId, body: EvaluateRequest, ctx: Context, state: State
) -> EvaluationOut:
    queries = [
        JudgedQuery(
            q.id,
            q.query,
            None
            if q.relevant is None
            else (dict(q.relevant) if isinstance(q.relevant, dict) else dict.fromkeys(q.relevant, 1.0)),
        )
        for q in body.queries
    ]
    tuning = {k: getattr(body, k) for k in ("fusion", "semantic_weight", "rff_k", "rerank_model")}
    result = await state.evaluator.evaluate(
        ctx, collection_id, queries, body.qrels, list(body.methods), body.k, body.match, tuning
    )
    return EvaluationOut(
        collection_id=result.collection_id,
        k=result.k,
        match=body.match,
        queries=len(result.queries),
        unknown_documents=result.unknown_documents,
        skipped_queries=result.skipped,
        fusion=FusionOut(
            method=result.fusion.method,
            semantic_weight=result.fusion.semantic_weight,
            rff_k=result.fusion.rrf_k,
            rerank_model=result.fusion.rerank_model,
        ),
        methods=[MethodScoresOut(method=m, **asdict(s)) for m, s in result.methods.items()],
        per_query=[
            QueryScoresOut(
                id=q.id,
                relevant=q.relevant,
                scores={m: ScoresOut(**asdict(s)) for m, s in q.scores.items()},
                retrieved=q.retrieved,
            )
            for q in result.queries
        ],
    )
