"""What the registry holds for each router and provider while the process serves them: the adapter,
its live statistics, and what accounting needs to know (prices, parameters, hosting zone)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlsplit

from lockgate.gateway.providers.base import ProviderAdapter, ProviderConfig
from lockgate.gateway.qos import ProviderStats
from lockgate.gateway.schemas import ModelType


@dataclass(eq=False)
class ProviderRuntime:
    id: int
    router_id: int
    config: ProviderConfig
    adapter: ProviderAdapter
    qos_metric: str | None
    qos_limit: float | None
    hosting_zone: str
    total_params: int
    active_params: int
    stats: ProviderStats = field(default_factory=ProviderStats)

    @cached_property
    def name(self) -> str:
        """How logs, metrics and health name the provider: type, upstream model and host[:port] (never
        the URL's path or credentials), e.g. `vllm:llama-3@10.0.0.7:8000`, `local:smollm2-135m-instruct`."""
        return provider_name(self.config)


def provider_name(config: ProviderConfig) -> str:
    if config.type == "local":
        return f"local:{config.model_name}"
    parts = urlsplit(config.url)
    host = parts.hostname or ""
    return f"{config.type}:{config.model_name}@{host}" + (f":{parts.port}" if parts.port else "")


@dataclass(eq=False)
class RouterRuntime:
    id: int
    name: str
    type: ModelType
    aliases: list[str]
    strategy: str
    cost_prompt_tokens: float
    cost_completion_tokens: float
    max_context_length: int | None
    vector_size: int | None
    created: int
    providers: list[ProviderRuntime]
