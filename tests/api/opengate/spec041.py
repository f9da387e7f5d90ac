"""Response models written from OpenGateLLM 0.4.1's published schemas (spec 000, `docs/openapi.json` of
that release), not from Lockgate's own: what an OpenGateLLM client validates answers against. Strict
types (an int is not a float, a str is not an int); extra fields are allowed, as its clients ignore them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, StrictStr

Number = StrictInt | StrictFloat


class Spec(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class HTTPException(Spec):
    detail: StrictStr


class ValidationErrorItem(Spec):
    loc: list[StrictStr | StrictInt]
    msg: StrictStr
    type: StrictStr


class HTTPValidationError(Spec):
    detail: list[ValidationErrorItem]


class MinMax(Spec):
    min: Number | None
    max: Number | None


class Carbon(Spec):
    kWh: MinMax
    kgCO2eq: MinMax


class Usage(Spec):
    prompt_tokens: StrictInt
    completion_tokens: StrictInt
    total_tokens: StrictInt
    cost: Number
    carbon: Carbon


class Router(Spec):
    object: Literal["router"]
    id: StrictInt
    name: StrictStr
    user_id: StrictInt
    type: StrictStr
    aliases: list[StrictStr]
    load_balancing_strategy: StrictStr
    vector_size: StrictInt | None
    max_context_length: StrictInt | None
    cost_prompt_tokens: Number
    cost_completion_tokens: Number
    providers: StrictInt
    created: StrictInt
    updated: StrictInt


class Routers(Spec):
    object: Literal["list"]
    data: list[Router]


class Transcription(Spec):
    id: StrictStr
    text: StrictStr
    model: StrictStr
    usage: Usage


class Limit(Spec):
    router: StrictInt
    type: StrictStr
    value: StrictInt | None


class UserInfo(Spec):
    object: Literal["userInfo"]
    id: StrictInt
    email: StrictStr
    name: StrictStr | None
    organization: StrictInt | None
    budget: Number | None
    permissions: list[StrictStr]
    limits: list[Limit]
    expires: StrictInt | None
    priority: StrictInt
    created: StrictInt
    updated: StrictInt


class KeyCreated(Spec):
    id: StrictInt
    token: StrictStr


class Metrics(Spec):
    latency: StrictInt | None
    ttft: StrictInt | None


class MeUsageDetail(Usage):
    metrics: Metrics


class MeUsage(Spec):
    object: Literal["me.usage"]
    model: StrictStr | None
    key: StrictStr | None
    endpoint: StrictStr | None
    method: StrictStr | None
    status: StrictInt | None
    usage: MeUsageDetail
    created: StrictInt


class MeUsages(Spec):
    object: Literal["list"]
    data: list[MeUsage]


class Chunk(Spec):
    object: Literal["chunk"]
    id: StrictInt
    collection_id: StrictInt
    document_id: StrictInt
    content: StrictStr
    metadata: dict[str, Any] | None
    created: StrictInt


class Chunks(Spec):
    object: Literal["list"]
    data: list[Chunk]


class CreatedChunks(Spec):
    document_id: StrictInt
    ids: list[StrictInt]


class CreatedId(Spec):
    id: StrictInt


class SearchResult(Spec):
    method: Literal["hybrid", "semantic", "lexical"]
    score: Number
    chunk: Chunk


class Searches(Spec):
    object: Literal["list"]
    data: list[SearchResult]
    usage: Usage


class Embedding(Spec):
    object: Literal["embedding"]
    index: StrictInt
    embedding: list[Number] | StrictStr


class Embeddings(Spec):
    object: Literal["list"]
    data: list[Embedding]
    model: StrictStr
    usage: Usage


class RerankResult(Spec):
    relevance_score: Number
    index: StrictInt


class Reranks(Spec):
    object: Literal["list"]
    id: StrictStr
    results: list[RerankResult]
    model: StrictStr
    usage: Usage


class ChatCompletion(Spec):
    id: StrictStr
    object: Literal["chat.completion"]
    model: StrictStr
    choices: list[dict[str, Any]]
    usage: Usage
    search_results: list[SearchResult] = []


class ChatCompletionChunk(Spec):
    id: StrictStr
    object: Literal["chat.completion.chunk"]
    model: StrictStr
    choices: list[dict[str, Any]]
    search_results: list[SearchResult] = []


def valid(model: type[Spec], body: Any) -> Spec:
    """`body` validated as an OpenGateLLM 0.4.1 client reads it (raises when it would not)."""
    return model.model_validate(body)
