"""vLLM: the OpenAI routes plus /v1/rerank (Cohere/Jina shape); context length from `max_model_len`."""

from typing import Any

from lockgate.gateway.providers.base import ProviderAdapter
from lockgate.gateway.schemas import Endpoint, ModelType


class VllmAdapter(ProviderAdapter):
    type = "vllm"
    endpoints = frozenset(
        {Endpoint.CHAT, Endpoint.COMPLETIONS, Endpoint.EMBEDDINGS, Endpoint.RERANK, Endpoint.TRANSCRIPTION}
    )
    model_types = frozenset(
        {
            ModelType.TEXT_GENERATION,
            ModelType.IMAGE_TEXT_TO_TEXT,
            ModelType.TEXT_EMBEDDINGS,
            ModelType.TEXT_CLASSIFICATION,
            ModelType.SPEECH_RECOGNITION,
        }
    )

    async def rerank(self, query: str, documents: list[str], top_n: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.config.model_name, "query": query, "documents": documents}
        if top_n is not None:
            body["top_n"] = top_n
        answer = await self._post_json("/v1/rerank", body)
        results = [{"index": r["index"], "relevance_score": r["relevance_score"]} for r in answer["results"]]
        tokens = (answer.get("usage") or {}).get("total_tokens")
        return {"results": results, "prompt_tokens": tokens}
