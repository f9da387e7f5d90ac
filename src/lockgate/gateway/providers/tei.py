"""Hugging Face text-embeddings-inference: /embed, /rerank and /info (no /v1/models); token-id inputs
go to its OpenAI-compatible /v1/embeddings, which reads them (/embed reads text)."""

from typing import Any

import orjson

from lockgate.errors import UpstreamBadGateway
from lockgate.gateway.providers.base import ProbeMismatch, ProviderAdapter, raise_for_upstream
from lockgate.gateway.schemas import Endpoint, ModelType, ProbeResult
from lockgate.kit.vectors import embedding_items, text_inputs


class TeiAdapter(ProviderAdapter):
    type = "tei"
    endpoints = frozenset({Endpoint.EMBEDDINGS, Endpoint.RERANK})
    model_types = frozenset({ModelType.TEXT_EMBEDDINGS, ModelType.TEXT_CLASSIFICATION})

    async def probe(self, model_type: ModelType) -> ProbeResult:
        info = await self._get_json("/info")
        kind = info.get("model_type") or {}
        expected = "embedding" if model_type == ModelType.TEXT_EMBEDDINGS else "reranker"
        if expected not in kind:
            raise ProbeMismatch(f"Provider {self.label} does not serve an {expected} model.")
        vector_size = await self._probe_vector_size() if model_type == ModelType.TEXT_EMBEDDINGS else None
        return ProbeResult(max_context_length=info.get("max_input_length"), vector_size=vector_size)

    async def _post_counted(self, path: str, body: dict[str, Any]) -> tuple[Any, int | None]:
        """POST, returning the JSON answer and TEI's token count header when present."""
        status, content, headers = await self._request("POST", path, data=orjson.dumps(body), headers=_JSON)
        raise_for_upstream(status, content, self.label, headers=headers)
        tokens = headers.get("x-compute-tokens")
        return orjson.loads(content), int(tokens) if tokens and tokens.isdigit() else None

    async def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        if _token_ids(body["input"]):
            vectors, tokens = await self._embed_token_ids(body["input"])
        else:
            texts = text_inputs(body["input"])
            vectors, tokens = await self._post_counted("/embed", {"inputs": texts, "truncate": True})
        data = embedding_items(vectors, body.get("dimensions"), body.get("encoding_format"))
        usage = {"prompt_tokens": tokens, "total_tokens": tokens} if tokens is not None else None
        return {"object": "list", "data": data, "model": self.config.model_name, "usage": usage}

    async def _embed_token_ids(
        self, inputs: list[int] | list[list[int]]
    ) -> tuple[list[list[float]], int | None]:
        answer = await self._post_json("/v1/embeddings", {"input": inputs, "model": self.config.model_name})
        try:
            vectors = [item["embedding"] for item in sorted(answer["data"], key=lambda d: d["index"])]
        except (KeyError, TypeError) as exc:
            raise UpstreamBadGateway(f"Provider {self.label} answered embeddings without vectors.") from exc
        tokens = (answer.get("usage") or {}).get("prompt_tokens")
        return vectors, tokens if isinstance(tokens, int) else None

    async def rerank(self, query: str, documents: list[str], top_n: int | None) -> dict[str, Any]:
        scored, tokens = await self._post_counted(
            "/rerank", {"query": query, "texts": documents, "truncate": True}
        )
        results = sorted(
            ({"index": r["index"], "relevance_score": r["score"]} for r in scored),
            key=lambda r: r["relevance_score"],
            reverse=True,
        )
        return {"results": results[:top_n] if top_n else results, "prompt_tokens": tokens}


_JSON = {"Content-Type": "application/json"}


def _token_ids(inputs: Any) -> bool:
    """True for OpenAI's token-id inputs: a list of ints or a list of lists of ints."""
    if not isinstance(inputs, list) or not inputs:
        return False
    first = inputs[0]
    return isinstance(first, int) or (isinstance(first, list) and all(isinstance(t, int) for t in first))
