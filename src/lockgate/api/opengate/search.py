"""POST /v1/search."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from lockgate.api.deps import Context, State
from lockgate.api.opengate.rag_schemas import SearchRequest
from lockgate.rag.hits import search_result

router = APIRouter(tags=["search"])


@router.post("/v1/search")
async def search(body: SearchRequest, ctx: Context, state: State) -> dict[str, Any]:
    hits, usage = await state.rag.search(
        ctx,
        body.query or "",  # never None once validated (query or its former name, prompt)
        method=body.method,
        collection_ids=body.collection_ids,
        document_ids=body.document_ids,
        metadata_filters=body.metadata_filters.model_dump() if body.metadata_filters else None,
        limit=body.limit,
        offset=body.offset,
        rff_k=body.rff_k if "rff_k" in body.model_fields_set else None,  # given: RRF, as OpenGateLLM
        score_threshold=body.score_threshold,
        fusion=body.fusion,
        semantic_weight=body.semantic_weight,
        rerank_model=body.rerank_model,
    )
    return {
        "object": "list",
        "data": [search_result(method, score, chunk) for method, score, chunk in hits],
        "usage": usage,
    }
