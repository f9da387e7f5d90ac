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
    hits, usage = await state.rag.search(ctx, body.to_query())
    return {
        "object": "list",
        "data": [search_result(method, score, chunk) for method, score, chunk in hits],
        "usage": usage,
    }
