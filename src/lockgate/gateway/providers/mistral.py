"""Mistral: chat, embeddings, and OCR (/v1/ocr) in Mistral's own document shape."""

from typing import Any

from lockgate.gateway.providers.base import ProviderAdapter
from lockgate.gateway.schemas import Endpoint, ModelType


class MistralAdapter(ProviderAdapter):
    type = "mistral"
    endpoints = frozenset({Endpoint.CHAT, Endpoint.EMBEDDINGS, Endpoint.OCR})
    model_types = frozenset(
        {
            ModelType.TEXT_GENERATION,
            ModelType.IMAGE_TEXT_TO_TEXT,
            ModelType.TEXT_EMBEDDINGS,
            ModelType.IMAGE_TO_TEXT,
        }
    )

    async def ocr(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post_json("/v1/ocr", body)
