"""Search: rank the chunks a caller may read (semantic, lexical), fuse them for hybrid, optionally
rerank, and return hits with their document's name. Every ranking is limited to readable collections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from lockgate.accounting.carbon import ZERO
from lockgate.accounting.service import CallContext
from lockgate.errors import NotFound
from lockgate.gateway.service import GatewayService
from lockgate.kit.db import Database
from lockgate.rag import repository
from lockgate.rag.access import readable_versions
from lockgate.rag.chunk_store import ChunkStore
from lockgate.rag.fusion import DEFAULT_FUSION, RERANK_CANDIDATES, Fusion, fuse
from lockgate.rag.models import Chunk
from lockgate.rag.schemas import SearchHit, SearchQuery, SearchScope, chunk_view


def no_usage() -> dict[str, Any]:
    """A search that called no model (lexical, or nothing readable): nothing spent, in the shape of a
    settled usage (OpenGateLLM clients require `cost` and `carbon`)."""
    return {
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "cost": 0.0,
        "carbon": ZERO.as_usage(),
        "requests": 0,
    }


class Retriever:
    def __init__(
        self,
        db: Database,
        gateway: GatewayService,
        store: ChunkStore,
        embeddings: Callable[[CallContext, list[str]], Awaitable[dict[str, Any]]],
    ):
        """`embeddings(ctx, texts)`: the RAG embedding model's answer (RagService's, which turns a model
        nobody serves into a 503)."""
        self._db = db
        self._gateway = gateway
        self._store = store
        self._embeddings = embeddings

    async def search(self, ctx: CallContext, search: SearchQuery) -> tuple[list[SearchHit], dict[str, Any]]:
        """`_search`, in a retrieval span when tracing is on."""
        tracing = self._gateway.attempt.tracing
        if tracing is None:
            return await self._search(ctx, search)
        with tracing.retrieval(search.method, search.collection_ids, search.limit) as span:
            hits, usage = await self._search(ctx, search)
            span.set_attribute("lockgate.rag.hits", len(hits))
            return hits, usage

    async def _search(self, ctx: CallContext, search: SearchQuery) -> tuple[list[SearchHit], dict[str, Any]]:
        """Hits (method, score, chunk with its document's name) and the embedding usage. Only chunks of
        collections the caller can read are ever considered, whatever the filters say; a named collection
        the caller cannot read (or that does not exist) is a 404 (OpenGateLLM's answer), or left out of
        scope without `unreadable_is_missing`. Hybrid fusion and
        rerank come from the request, else the one collection searched, else `DEFAULT_FUSION`."""
        query, method, collection_ids = search.query, search.method, search.collection_ids
        offset, limit = search.offset, search.limit
        wanted = offset + limit
        request = {
            "fusion": search.fusion,
            "semantic_weight": search.semantic_weight,
            "rff_k": search.rff_k,
            "rerank_model": search.rerank_model,
        }
        async with self._db.transaction() as session:
            # with their cache versions: the stores' per-process indexes then need no transaction
            versions = await readable_versions(session, ctx.principal.user_id, collection_ids)
            allowed = list(versions)
            stored = await repository.search_settings(session, allowed) if len(allowed) == 1 else {}
        missing = [c for c in collection_ids or () if c not in set(allowed)]
        if missing and search.unreadable_is_missing:
            # named, as OpenGateLLM answers; another user's private collection looks absent
            raise NotFound(f"Collection {missing[0]} not found.", param="collection_ids")
        tuning = DEFAULT_FUSION.with_settings(stored, "").with_settings(request, "")
        if not allowed:
            return [], no_usage()
        scope = SearchScope(allowed, search.document_ids, search.metadata_filters, versions)
        pool = max(100, 2 * wanted)
        threshold = search.score_threshold if method == "semantic" else -1.0
        semantic, lexical, usage = await self.rankings(ctx, query, scope, method, pool, threshold)
        ranked = fuse(semantic, lexical, tuning) if method == "hybrid" else semantic or lexical
        found: dict[int, tuple[Chunk, str]] = {}
        if tuning.rerank_model:
            ranked, found = await self.reranked(ctx, query, ranked, tuning.rerank_model, wanted)
        page = ranked[offset:wanted]
        missing = [chunk_id for chunk_id, _ in page if chunk_id not in found]
        if missing:
            async with self._db.transaction() as session:
                found.update(await repository.chunks_with_names(session, missing))
        hits = [
            SearchHit(method, score, chunk_view(*found[chunk_id]))
            for chunk_id, score in page
            if chunk_id in found
        ]
        return hits, usage

    async def rankings(
        self,
        ctx: CallContext,
        query: str,
        scope: SearchScope,
        method: str,
        pool: int,
        threshold: float = -1.0,
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]], dict[str, Any]]:
        """(semantic, lexical, embedding usage) for `scope`, which must already be limited to what the
        caller can read: each ranking is (chunk id, score) best first, at most `pool`, empty when
        `method` does not use it."""
        usage = no_usage()
        semantic: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if method in {"semantic", "hybrid"}:
            call = CallContext(ctx.principal, ctx.endpoint, ctx.method)  # one usage record per call
            embedded = await self._embeddings(call, [query])
            usage = embedded.get("usage", usage)
            semantic = await self._store.semantic(embedded["data"][0]["embedding"], scope, pool, threshold)
        if method in {"lexical", "hybrid"}:
            lexical = await self._store.lexical(query, scope, pool)
        return semantic, lexical, usage

    async def fusion_for(self, collection_id: int, request: dict[str, Any]) -> Fusion:
        """The hybrid settings a search of this one collection uses with `request`'s laid over them."""
        async with self._db.transaction() as session:
            stored = await repository.search_settings(session, [collection_id])
        return DEFAULT_FUSION.with_settings(stored, "").with_settings(request, "")

    async def reranked(
        self, ctx: CallContext, query: str, ranked: list[tuple[int, float]], model: str, wanted: int
    ) -> tuple[list[tuple[int, float]], dict[int, tuple[Chunk, str]]]:
        """The first candidates reordered by a rerank model (scores become its relevance scores); the
        rows read for it are returned too."""
        candidates = ranked[: max(wanted, RERANK_CANDIDATES)]
        async with self._db.transaction() as session:
            found = await repository.chunks_with_names(session, [chunk_id for chunk_id, _ in candidates])
        kept = [chunk_id for chunk_id, _ in candidates if chunk_id in found]
        if not kept:
            return [], found
        rerank_ctx = CallContext(ctx.principal, "/v1/rerank", ctx.method)
        answer = await self._gateway.rerank(
            rerank_ctx, model, query, [found[i][0].content for i in kept], None
        )
        scored = sorted(
            ((kept[r["index"]], float(r["relevance_score"])) for r in answer["results"]),
            key=lambda item: (-item[1], item[0]),
        )
        return scored, found
