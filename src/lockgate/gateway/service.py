"""Inference through routers: admit (limits, budget), choose a provider, call it, fail over, measure,
settle (cost, carbon, usage record). Nothing here blocks the event loop or holds a DB connection."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from lockgate.accounting.schemas import Usage
from lockgate.accounting.service import Accountant, Admission, CallContext
from lockgate.errors import (
    AppError,
    BadRequest,
    NotFound,
    ServiceUnavailable,
    UpstreamBadGateway,
)
from lockgate.gateway import answers, health
from lockgate.gateway.attempt import Attempts, failover
from lockgate.gateway.bounds import UpstreamBounds
from lockgate.gateway.events import StreamEvents
from lockgate.gateway.providers.base import FilePart, RawResponse, Tokenizer
from lockgate.gateway.queueing import CapacityGate
from lockgate.gateway.registry import ModelRegistry
from lockgate.gateway.request import GenerationRequest, read_chat
from lockgate.gateway.requested import encoded_embeddings, top_results
from lockgate.gateway.runtime import ProviderRuntime, RouterRuntime
from lockgate.gateway.schemas import (
    ENDPOINT_MODEL_TYPES,
    Endpoint,
    Generation,
    ModelHealth,
    ModelType,
    ProviderHealth,
    Strategy,
)
from lockgate.gateway.settlement import facts as _facts
from lockgate.gateway.settlement import release_admission
from lockgate.gateway.streaming import StreamRelay
from lockgate.gateway.usage import estimate_prompt, estimate_tokens, normalize_usage

if TYPE_CHECKING:
    from lockgate.ops.tracing import Tracing

T = TypeVar("T")

# Enum members read once: each `Endpoint.CHAT` is a lookup through the enum class (~0.15 µs on 3.11),
# and these are read on every request.
_CHAT = Endpoint.CHAT
_IMAGE_TEXT_TO_TEXT = ModelType.IMAGE_TEXT_TO_TEXT


class AtCapacity(ServiceUnavailable):
    """Every usable provider is over its QoS limit (as opposed to down or cooling)."""


class GatewayService:
    def __init__(
        self,
        registry: ModelRegistry,
        accountant: Accountant,
        failure_threshold: int = 3,
        cooldown_seconds: float = 30.0,
        queue_seconds: float = 10.0,
        retry_seconds: float = 15.0,
        bounds: UpstreamBounds | None = None,
        tracing: Tracing | None = None,
    ):
        self._retry_seconds = retry_seconds
        self.registry = registry
        self.accountant = accountant
        self._queue_seconds = queue_seconds
        self._gates: dict[int, CapacityGate] = {}
        self.bounds = bounds or registry.bounds
        self.attempt = Attempts(failure_threshold, cooldown_seconds, self._release_gate, tracing)

    # -- health (admin API, readiness, metrics, console) -------------------------------------------

    def provider_health(self, provider_id: int) -> ProviderHealth | None:
        """None when this process has not loaded the provider."""
        runtime = self.registry.provider(provider_id)
        return health.health_of(runtime.stats) if runtime is not None else None

    def models_health(self) -> list[ModelHealth]:
        return health.models_health(self.registry.routers())

    def queue_depths(self) -> list[tuple[str, int]]:
        """(model, requests waiting for capacity) for every model that has a queue."""
        return [
            (router.name, self._gates[router.id].depth)
            for router in self.registry.routers()
            if router.id in self._gates
        ]

    # -- routing -----------------------------------------------------------------------------------

    def resolve(self, name: str | None, endpoint: Endpoint) -> RouterRuntime:
        router = self.registry.resolve(name or "")
        if router is None:
            raise NotFound(f"Model '{name}' not found.", param="model")
        if router.type not in ENDPOINT_MODEL_TYPES[endpoint]:
            raise BadRequest(
                f"Model '{name}' is a {router.type.value} model and cannot serve {endpoint.value} requests.",
                param="model",
            )
        return router

    def candidates(self, router: RouterRuntime, endpoint: Endpoint) -> list[ProviderRuntime]:
        """Providers to try, in order. 503 + Retry-After when none can take the request now."""
        now = time.monotonic()
        providers = [p for p in router.providers if endpoint in p.adapter.endpoints]
        if router.providers and not providers:
            raise BadRequest(
                f"Model '{router.name}' is served by providers that do not offer {endpoint.value}.",
                param="model",
            )
        if not providers:  # nothing will change that until an administrator adds one: no Retry-After
            raise ServiceUnavailable(f"Model '{router.name}' has no provider.", retry_after=None)
        usable = [p for p in providers if p.stats.healthy and not p.stats.cooling_down(now)]
        if not usable:
            raise ServiceUnavailable(
                f"No provider of model '{router.name}' is available right now.",
                retry_after=_next_chance(providers, now),
            )
        within = [p for p in usable if not p.stats.over_limit(p.qos_metric, p.qos_limit)]
        if not within:
            raise AtCapacity(f"Model '{router.name}' is at capacity; retry shortly.", retry_after=1)
        if len(within) == 1:
            return within
        if router.strategy == Strategy.LEAST_BUSY:
            return sorted(within, key=lambda p: (p.stats.inflight, random.random()))
        return random.sample(within, len(within))

    async def providers(
        self, router: RouterRuntime, endpoint: Endpoint, priority: int
    ) -> list[ProviderRuntime]:
        """Candidates now, or after waiting in the router's priority queue while it is saturated."""
        gate = self._gates.get(router.id)
        if gate is None:
            gate = self._gates[router.id] = CapacityGate()
        if not gate.waiting:
            try:
                return self.candidates(router, endpoint)
            except AtCapacity:
                if self._queue_seconds <= 0:
                    raise
        deadline = time.monotonic() + self._queue_seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await gate.wait(priority, remaining):
                raise AtCapacity(f"Model '{router.name}' is at capacity; retry shortly.", retry_after=1)
            try:
                return self.candidates(router, endpoint)
            except AtCapacity:
                continue

    def _release_gate(self, router: RouterRuntime) -> None:
        gate = self._gates.get(router.id)
        if gate is not None:
            gate.release()

    async def _call(
        self,
        router: RouterRuntime,
        endpoint: Endpoint,
        priority: int,
        invoke: Callable[[ProviderRuntime], Awaitable[T]],
    ) -> tuple[T, ProviderRuntime, float]:
        """Try providers in order until one answers; retry only failures that are the provider's fault.
        `invoke` reads, parses and checks the answer: whatever it raises is classified by the attempt."""
        tracing = self.attempt.tracing

        async def try_one(provider: ProviderRuntime) -> tuple[T, float]:
            async with self.attempt(router, provider, endpoint) as attempt:
                async with asyncio.timeout(provider.config.timeout):
                    result = await invoke(provider)
                if attempt.span is not None and tracing is not None:
                    tracing.answered(attempt.span, result)
            return result, attempt.elapsed_ms()

        providers = await self.providers(router, endpoint, priority)
        if len(providers) == 1:  # the usual router: what failover would do with one, one coroutine less
            result, latency_ms = await try_one(providers[0])
            return result, providers[0], latency_ms
        (result, latency_ms), provider = await failover(providers, try_one)
        return result, provider, latency_ms

    async def _admit(
        self, ctx: CallContext, router: RouterRuntime, prompt_tokens: int, max_tokens: int | None
    ) -> Admission:
        prices = (router.cost_prompt_tokens, router.cost_completion_tokens)
        return await self.accountant.admit(ctx, router.id, router.name, prices, prompt_tokens, max_tokens)

    @asynccontextmanager
    async def _admitted(
        self, ctx: CallContext, router: RouterRuntime, prompt_tokens: int, max_tokens: int | None
    ) -> AsyncIterator[Admission]:
        """An admission given back (holds released, failure recorded) unless settled inside the block,
        whatever leaves it: an error, a bug or the client going away."""
        admission = await self._admit(ctx, router, prompt_tokens, max_tokens)
        try:
            yield admission
        except BaseException as exc:
            if not admission.settled:
                await release_admission(self.accountant, admission, exc)
            raise
        if not admission.settled:
            await release_admission(self.accountant, admission, None)

    # -- chat and completions ----------------------------------------------------------------------

    def _checked(self, request: GenerationRequest) -> RouterRuntime:
        """The router of a generation request whose messages any provider of it could take."""
        router = self.resolve(request.model, request.endpoint)
        if request.endpoint is _CHAT:
            request.check_parts(accepts_images=router.type is _IMAGE_TEXT_TO_TEXT)
        return router

    async def generate(self, ctx: CallContext, request: GenerationRequest) -> Generation:
        """A chat or text completion (`request.endpoint`), answered by the first provider that can."""
        router = self._checked(request)
        endpoint, prompt_tokens = request.endpoint, estimate_prompt(request)

        async def invoke(provider: ProviderRuntime) -> dict[str, Any]:
            if endpoint is _CHAT:
                return answers.generation(await provider.adapter.chat(request))
            return answers.generation(await provider.adapter.completions(request))

        async with self._admitted(ctx, router, prompt_tokens, request.completion_limit) as admission:
            answer, provider, latency_ms = await self._call(router, endpoint, ctx.principal.priority, invoke)
            answer["model"] = router.name
            reported = Usage.from_wire(answer.pop("usage", None))  # checked by answers.generation
            usage = normalize_usage(reported, prompt_tokens, answer.get("choices"))
            if usage.completion_tokens:
                provider.stats.ms_per_token.add(latency_ms / usage.completion_tokens)
            return Generation(answer, await self.accountant.settle(admission, _facts(provider), usage))

    async def generate_stream(self, ctx: CallContext, request: GenerationRequest) -> StreamEvents:
        """Open the stream on the first provider that yields a first event (failing over before that),
        then hand back an iterator over the rest. Errors before the first byte raise; after, they are
        yielded as ErrorEvent."""
        router = self._checked(request)
        prompt_tokens = estimate_prompt(request)
        admission = await self._admit(ctx, router, prompt_tokens, request.completion_limit)
        relay = StreamRelay(
            self.accountant, self.attempt, self.bounds, router, request, admission, prompt_tokens
        )
        return await relay.open(lambda: self.providers(router, request.endpoint, ctx.principal.priority))

    # -- local tokenizer (llama-cpp-python's /extras) ----------------------------------------------

    def tokenizer(self, name: str | None) -> Tokenizer:
        """The tokenizer of a local model (default: the first model that has one here). 404 for an
        unknown model or when none is loaded, 400 for a model whose tokenizer does not run here."""
        routers = [self.resolve(name, Endpoint.CHAT)] if name else self.registry.routers()
        for router in routers:
            for provider in router.providers:
                if provider.adapter.tokenizer is not None:
                    return provider.adapter.tokenizer
        if name:
            raise BadRequest(
                f"Model '{name}' is not a local llama.cpp model: it has no tokenizer here.", param="model"
            )
        raise NotFound("No local llama.cpp model is loaded.", param="model")

    async def count_prompt_tokens(
        self, name: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> int:
        """Input tokens of a chat request to model `name` (404 unknown, 400 not a chat model): counted by
        the local model's own tokenizer when a llama.cpp engine serves it, by the upstream when its API
        counts (Anthropic), else (or when that upstream fails) the estimate that admission uses. Nothing
        is billed."""
        router = self.resolve(name, Endpoint.CHAT)
        for provider in router.providers:
            counter = getattr(provider.adapter, "count_tokens", None)
            if counter is not None and provider.stats.healthy:
                body = {"model": provider.config.model_name, "messages": messages, "tools": tools}
                try:
                    request = read_chat(body)
                    return await asyncio.wait_for(counter(request), timeout=provider.config.timeout)
                except (AppError, TimeoutError):
                    break
        tokenizer = next((p.adapter.tokenizer for p in router.providers if p.adapter.tokenizer), None)
        if tokenizer is None:
            return estimate_tokens(messages) + estimate_tokens(tools)
        text = "\n".join(_message_text(m) for m in messages)
        if tools:
            text += "\n" + orjson.dumps(tools).decode()
        return len(await tokenizer.tokenize(text))

    # -- embeddings, rerank, audio, ocr ------------------------------------------------------------

    async def embeddings(self, ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
        router = self.resolve(body.get("model"), Endpoint.EMBEDDINGS)

        async def invoke(provider: ProviderRuntime) -> dict[str, Any]:
            upstream = {**body, "model": provider.config.model_name}
            return answers.embeddings(await provider.adapter.embeddings(upstream))

        prompt_tokens = estimate_tokens(body.get("input"))
        async with self._admitted(ctx, router, prompt_tokens, 0) as admission:
            answer, provider, _ = await self._call(
                router, Endpoint.EMBEDDINGS, ctx.principal.priority, invoke
            )
            answer = encoded_embeddings(answer, body.get("encoding_format"))
            answer["model"] = router.name
            usage = normalize_usage(answers.reported_usage(answer.get("usage")), prompt_tokens, None)
            answer["usage"] = (await self.accountant.settle(admission, _facts(provider), usage)).wire()
            return answer

    async def rerank(
        self, ctx: CallContext, model: str, query: str, documents: list[str], top_n: int | None
    ) -> dict[str, Any]:
        router = self.resolve(model, Endpoint.RERANK)

        async def invoke(provider: ProviderRuntime) -> dict[str, Any]:
            return answers.rerank(await provider.adapter.rerank(query, documents, top_n))

        prompt_tokens = estimate_tokens([query, *documents])
        async with self._admitted(ctx, router, prompt_tokens, 0) as admission:
            answer, provider, _ = await self._call(router, Endpoint.RERANK, ctx.principal.priority, invoke)
            tokens = answer.get("prompt_tokens")
            reported = Usage.counted(tokens) if tokens is not None else None
            usage = normalize_usage(reported, prompt_tokens, None)
            return {
                "object": "list",
                "id": f"rerank-{uuid.uuid4().hex}",
                "model": router.name,
                "results": top_results(answer["results"], top_n),
                "usage": (await self.accountant.settle(admission, _facts(provider), usage)).wire(),
            }

    async def transcribe(
        self, ctx: CallContext, model: str, file: FilePart, fields: dict[str, str]
    ) -> dict[str, Any] | RawResponse:
        router = self.resolve(model, Endpoint.TRANSCRIPTION)

        async def invoke(provider: ProviderRuntime) -> dict[str, Any] | RawResponse:
            answer = await provider.adapter.transcribe(file, {**fields, "model": provider.config.model_name})
            return answer if isinstance(answer, RawResponse) else answers.any_object(answer)

        async with self._admitted(ctx, router, 0, 0) as admission:
            answer, provider, _ = await self._call(
                router, Endpoint.TRANSCRIPTION, ctx.principal.priority, invoke
            )
            text = answer.get("text") if isinstance(answer, dict) else answer.content.decode(errors="replace")
            usage = normalize_usage(None, 0, text if isinstance(text, str) else None)
            settled = await self.accountant.settle(admission, _facts(provider), usage)
            if isinstance(answer, dict):
                answer.setdefault("id", f"transcription-{uuid.uuid4().hex}")  # OpenGateLLM's schema has one
                answer["model"] = router.name
                answer["usage"] = settled.wire()
            return answer

    async def ocr(self, ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
        router = self.resolve(body.get("model"), Endpoint.OCR)

        async def invoke(provider: ProviderRuntime) -> dict[str, Any]:
            answer = answers.any_object(
                await provider.adapter.ocr({**body, "model": provider.config.model_name})
            )
            pages = answer.get("pages") or []
            if not isinstance(pages, list) or not all(isinstance(p, dict) for p in pages):
                raise UpstreamBadGateway(
                    "The provider's answer is unusable: 'pages' is not a list of objects."
                )
            return answer

        async with self._admitted(ctx, router, 0, 0) as admission:
            answer, provider, _ = await self._call(router, Endpoint.OCR, ctx.principal.priority, invoke)
            answer["model"] = router.name
            answer.setdefault("id", f"ocr-{uuid.uuid4().hex}")
            pages = answer.get("pages") or []
            reported = answers.reported_usage(answer.get("usage"))
            usage = normalize_usage(reported, 0, [p.get("markdown") for p in pages])
            answer["usage"] = (await self.accountant.settle(admission, _facts(provider), usage)).wire()
            return answer


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    calls = "".join(
        str((c.get("function") or {}).get("arguments", "")) for c in message.get("tool_calls") or ()
    )
    return f"{message.get('role', '')}: {content or ''}{calls}"


def _next_chance(providers: list[ProviderRuntime], now: float) -> float | None:
    """Seconds until one of these providers may serve again: the end of a cool-down, or the next probe of
    an unreachable one (+1 s for the probe itself). None when no such moment is scheduled."""
    waits = [p.stats.cooldown_until - now for p in providers if p.stats.healthy and p.stats.cooling_down(now)]
    waits += [
        max(0.0, p.stats.next_probe_at - now) + 1.0
        for p in providers
        if not p.stats.healthy and p.stats.next_probe_at is not None
    ]
    return min(waits) if waits else None
