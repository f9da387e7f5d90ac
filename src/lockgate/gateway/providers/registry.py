"""Provider type → adapter class. Local engines register here too (local-inference issue)."""

from lockgate.gateway.providers.albert import AlbertAdapter
from lockgate.gateway.providers.anthropic import AnthropicAdapter
from lockgate.gateway.providers.base import ProviderAdapter
from lockgate.gateway.providers.local import LocalAdapter
from lockgate.gateway.providers.mistral import MistralAdapter
from lockgate.gateway.providers.openai import OpenAIAdapter
from lockgate.gateway.providers.tei import TeiAdapter
from lockgate.gateway.providers.vllm import VllmAdapter

ADAPTERS: dict[str, type[ProviderAdapter]] = {
    adapter.type: adapter
    for adapter in (
        OpenAIAdapter,
        VllmAdapter,
        MistralAdapter,
        TeiAdapter,
        AlbertAdapter,
        AnthropicAdapter,
        LocalAdapter,
    )
}
