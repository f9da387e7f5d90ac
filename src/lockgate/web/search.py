"""The search tester: one query, lexical / semantic / hybrid side by side, with their scores."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from lockgate.accounting.service import CallContext
from lockgate.api.deps import DbId, State
from lockgate.rag.schemas import SearchQuery
from lockgate.web.render import ConsoleRoute, page
from lockgate.web.session import Viewer

router = APIRouter(route_class=ConsoleRoute)
METHODS = ("lexical", "semantic", "hybrid")


@router.get("/ui/collections/{collection_id}/search")
async def search(
    request: Request,
    collection_id: DbId,
    principal: Viewer,
    state: State,
    q: Annotated[str, Query(max_length=4096)] = "",
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> Response:
    collection, _ = await state.rag.get_collection(principal, collection_id)
    results = {}
    if q.strip():
        for method in METHODS:
            ctx = CallContext(principal, "/ui/search", "GET")  # one usage record per search
            hits, _usage = await state.rag.search(ctx, SearchQuery(q, method, [collection_id], limit=limit))
            results[method] = [(score, chunk) for _, score, chunk in hits]
    template = "_search_results.html" if request.headers.get("hx-request") else "search.html"
    return page(request, template, collection=collection, q=q, limit=limit, results=results, methods=METHODS)
