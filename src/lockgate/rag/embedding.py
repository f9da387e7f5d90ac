"""The RAG embedding model, reached through the gateway like any other call (limits, usage and carbon
apply): texts → vectors for ingestion, a query → its vector for search. A model the server setting names
but nobody serves is the server's fault: 503, not the caller's."""

from __future__ import annotations

from typing import Any

from lockgate.accounting.service import CallContext
from lockgate.errors import NotFound, ServiceUnavailable
from lockgate.gateway.service import GatewayService
from lockgate.rag.chunk_store import ChunkStore

EMBED_BATCH = 64


class Embedder:
    def __init__(self, gateway: GatewayService, store: ChunkStore, model: str):
        self._gateway = gateway
        self._store = store
        self.model = model  # setting rag_embedding_model

    async def embeddings(self, ctx: CallContext, texts: list[str]) -> dict[str, Any]:
        """The embedding model's answer (OpenAI shape: data[i].embedding, usage); 503 when not served."""
        try:
            return await self._gateway.embeddings(ctx, {"model": self.model, "input": texts})
        except NotFound as exc:
            raise ServiceUnavailable(
                f"RAG is misconfigured on this server: its embedding model '{self.model}' "
                "(setting rag_embedding_model) is not served.",
                retry_after=60,
            ) from exc

    async def embed(self, ctx: CallContext, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order, by batches of EMBED_BATCH (one usage record per call); the
        store is made ready for their size before any write transaction opens. A text given more than
        once is embedded once: a file repeating itself (boilerplate on every page, or one character
        200,000 times, a full-window chunk each) costs the model calls of its distinct chunks only."""
        distinct = list(dict.fromkeys(texts))
        vectors: list[list[float]] = []
        for start in range(0, len(distinct), EMBED_BATCH):
            batch_ctx = CallContext(ctx.principal, ctx.endpoint, ctx.method)
            answer = await self.embeddings(batch_ctx, distinct[start : start + EMBED_BATCH])
            vectors.extend(item["embedding"] for item in sorted(answer["data"], key=lambda d: d["index"]))
        if vectors:
            await self._store.prepare(len(vectors[0]))
        if len(distinct) == len(texts):
            return vectors
        by_text = dict(zip(distinct, vectors, strict=True))
        return [list(by_text[text]) for text in texts]  # a list each: no vector shared between chunks
