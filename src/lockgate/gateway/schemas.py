"""Domain types of the gateway."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from lockgate.accounting.schemas import Usage


class ModelType(StrEnum):
    TEXT_GENERATION = "text-generation"
    TEXT_EMBEDDINGS = "text-embeddings-inference"
    TEXT_CLASSIFICATION = "text-classification"
    SPEECH_RECOGNITION = "automatic-speech-recognition"
    IMAGE_TEXT_TO_TEXT = "image-text-to-text"
    IMAGE_TO_TEXT = "image-to-text"


class Strategy(StrEnum):
    SHUFFLE = "shuffle"
    LEAST_BUSY = "least_busy"


class ProviderType(StrEnum):
    OPENAI = "openai"
    VLLM = "vllm"
    MISTRAL = "mistral"
    TEI = "tei"
    ALBERT = "albert"
    ANTHROPIC = "anthropic"  # Anthropic's Messages API (chat only)
    LOCAL = "local"  # an engine running in this process (see lockgate.inference)


class QosMetric(StrEnum):
    INFLIGHT = "inflight"  # requests in flight on the provider
    TTFT = "ttft"  # median time to first token, ms, over the sliding window
    LATENCY = "latency"  # median request latency, ms, over the sliding window
    PERFORMANCE = "performance"  # median ms per output token, over the sliding window


class Endpoint(StrEnum):
    CHAT = "chat"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    RERANK = "rerank"
    TRANSCRIPTION = "transcription"
    OCR = "ocr"


# Which model types may serve which endpoint.
ENDPOINT_MODEL_TYPES: dict[Endpoint, frozenset[ModelType]] = {
    Endpoint.CHAT: frozenset({ModelType.TEXT_GENERATION, ModelType.IMAGE_TEXT_TO_TEXT}),
    Endpoint.COMPLETIONS: frozenset({ModelType.TEXT_GENERATION}),
    Endpoint.EMBEDDINGS: frozenset({ModelType.TEXT_EMBEDDINGS}),
    Endpoint.RERANK: frozenset({ModelType.TEXT_CLASSIFICATION}),
    Endpoint.TRANSCRIPTION: frozenset({ModelType.SPEECH_RECOGNITION}),
    Endpoint.OCR: frozenset({ModelType.IMAGE_TO_TEXT, ModelType.IMAGE_TEXT_TO_TEXT}),
}


@dataclass(frozen=True, slots=True)
class RouterView:
    id: int
    name: str
    user_id: int | None
    type: str
    aliases: list[str]
    load_balancing_strategy: str
    vector_size: int | None
    max_context_length: int | None
    cost_prompt_tokens: float
    cost_completion_tokens: float
    providers: int
    created: int
    updated: int


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    COOLING_DOWN = "cooling_down"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    """`since`, `last_error_at`, `cooldown_until`: Unix seconds."""

    status: HealthStatus
    since: int
    last_error: str | None
    last_error_at: int | None
    cooldown_until: int | None


@dataclass(frozen=True, slots=True)
class ModelHealth:
    """A model (router) and how many of its providers can take requests now."""

    model: str
    providers: int
    healthy: int


@dataclass(frozen=True, slots=True)
class ProviderView:
    id: int
    router_id: int
    user_id: int | None
    type: str
    url: str
    key: str | None  # masked, never the stored secret
    timeout: int
    model_name: str
    model_hosting_zone: str
    model_total_params: int
    model_active_params: int
    qos_metric: str | None
    qos_limit: float | None
    created: int
    updated: int
    health: ProviderHealth | None = None  # None: not (yet) loaded by this process


@dataclass(frozen=True, slots=True)
class ProbeResult:
    max_context_length: int | None = None
    vector_size: int | None = None


class Generation(NamedTuple):
    """A chat or text completion answered through a router: the OpenAI body (`chat.completion` or
    `text_completion`, `model` the router's name, without `usage`) and its settled usage."""

    answer: dict[str, Any]
    usage: Usage

    def wire(self) -> dict[str, Any]:
        """The OpenAI body with its usage (cost and carbon included)."""
        return {**self.answer, "usage": self.usage.wire()}
