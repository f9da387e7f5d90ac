"""OpenAI (and any OpenAI-compatible server): chat, completions, embeddings, transcription."""

from lockgate.gateway.providers.base import ProviderAdapter
from lockgate.gateway.schemas import Endpoint, ModelType


class OpenAIAdapter(ProviderAdapter):
    type = "openai"
    endpoints = frozenset({Endpoint.CHAT, Endpoint.COMPLETIONS, Endpoint.EMBEDDINGS, Endpoint.TRANSCRIPTION})
    model_types = frozenset(
        {
            ModelType.TEXT_GENERATION,
            ModelType.IMAGE_TEXT_TO_TEXT,
            ModelType.TEXT_EMBEDDINGS,
            ModelType.SPEECH_RECOGNITION,
        }
    )
