"""Albert (the French State's OpenGateLLM deployment): OpenAI routes, its own rerank shape, OCR."""

from typing import Any

from lockgate.gateway.providers.base import ProviderAdapter
from lockgate.gateway.schemas import Endpoint, ModelType


class AlbertAdapter(ProviderAdapter):
    type = "albert"
    endpoints = frozenset(
        {
            Endpoint.CHAT,
            Endpoint.COMPLETIONS,
            Endpoint.EMBEDDINGS,
            Endpoint.RERANK,
            Endpoint.TRANSCRIPTION,
            Endpoint.OCR,
        }
    )
    model_types = frozenset(ModelType)

    async def rerank(self, query: str, documents: list[str], top_n: int | None) -> dict[str, Any]:
        answer = await self._post_json(
            "/v1/rerank", {"model": self.config.model_name, "prompt": query, "input": documents}
        )
        results = sorted(
            ({"index": r["index"], "relevance_score": r["score"]} for r in answer["data"]),
            key=lambda r: r["relevance_score"],
            reverse=True,
        )
        return {"results": results[:top_n] if top_n else results, "prompt_tokens": None}

    async def ocr(self, body: dict[str, Any]) -> Any:
        return await self._post_json("/v1/ocr", body)
