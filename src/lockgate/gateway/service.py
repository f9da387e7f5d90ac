"""Inference through routers: admit (limits, budget), choose a provider, call it, fail over, measure,
settle (cost, carbon, usage record). Nothing here blocks the event loop or holds a DB connection."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import orjson

from lockgate.accounting.service import Accountant, Admission, CallContext, ProviderFacts
from lockgate.errors import AppError, BadRequest, NotFound, ServiceUnavailable, UpstreamError, UpstreamTimeout
from lockgate.gateway import health
from lockgate.gateway.events import ChunkEvent, ErrorEvent, StreamEvent, UsageEvent
from lockgate.gateway.providers.base import FilePart, RawResponse
from lockgate.gateway.queueing import CapacityGate
from lockgate.gateway.registry import ModelRegistry, ProviderRuntime, RouterRuntime
from lockgate.gateway.schemas import (
    ENDPOINT_MODEL_TYPES,
    Endpoint,
    ModelHealth,
    ModelType,
    ProviderHealth,
    Strategy,
)
from lockgate.gateway.usage import estimate_tokens, normalize_usage
from lockgate.inference.llama import LlamaEngine
from lockgate.inference.messages import check_chat

T = TypeVar("T")


class AtCapacity(ServiceUnavailable):
    """Every usable provider is over its QoS limit (as opposed to down or cooling)."""


def _facts(provider: ProviderRuntime | None) -> ProviderFacts:
    if provider is None:
        return ProviderFacts(None, 0, 0, "WOR")
    return ProviderFacts(provider.id, provider.active_params, provider.total_params, provider.hosting_zone)


class GatewayService:
    def __init__(
        self,
        registry: ModelRegistry,
        accountant: Accountant,
        failure_threshold: int = 3,
        cooldown_seconds: float = 30.0,
        queue_seconds: float = 10.0,
        retry_seconds: float = 15.0,
    ):
        self._retry_seconds = retry_seconds
        self.registry = registry
        self.accountant = accountant
        self._threshold = failure_threshold
        self._cooldown = cooldown_seconds
        self._queue_seconds = queue_seconds
        self._gates: dict[int, CapacityGate] = {}

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
        usable = [p for p in providers if p.stats.healthy and not p.stats.cooling_down(now)]
        if not usable:
            waits = [p.stats.cooldown_until - now for p in providers if p.stats.cooling_down(now)]
            raise ServiceUnavailable(
                f"No provider of model '{router.name}' is available right now.",
                retry_after=min(waits) if waits else self._retry_seconds,
            )
        within = [p for p in usable if not p.stats.over_limit(p.qos_metric, p.qos_limit)]
        if not within:
            raise AtCapacity(f"Model '{router.name}' is at capacity; retry shortly.", retry_after=1)
        if len(within) == 1:
            return within
        if router.strategy == Strategy.LEAST_BUSY:
            return sorted(within, key=lambda p: (p.stats.inflight, random.random()))
        return random.sample(within, len(within))

    async def _providers(
        self, router: RouterRuntime, endpoint: Endpoint, priority: int
    ) -> list[ProviderRuntime]:
        """Candidates now, or after waiting in the router's priority queue while it is saturated."""
        gate = self._gates.setdefault(router.id, CapacityGate())
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

    def _done(self, router: RouterRuntime, provider: ProviderRuntime) -> None:
        provider.stats.inflight -= 1
        gate = self._gates.get(router.id)
        if gate is not None:
            gate.release()

    def _failed(self, router: RouterRuntime, provider: ProviderRuntime, error: AppError) -> None:
        health.failed(
            provider, router.name, error.message, error.status_code, self._threshold, self._cooldown
        )

    async def _call(
        self,
        router: RouterRuntime,
        endpoint: Endpoint,
        priority: int,
        invoke: Callable[[ProviderRuntime], Awaitable[T]],
    ) -> tuple[T, ProviderRuntime, float]:
        """Try providers in order until one answers; retry only failures that are the provider's fault."""
        last: UpstreamError | None = None
        for provider in await self._providers(router, endpoint, priority):
            stats = provider.stats
            stats.inflight += 1
            started = time.perf_counter()
            try:
                result = await asyncio.wait_for(invoke(provider), timeout=provider.config.timeout)
            except TimeoutError:
                last = UpstreamTimeout(f"Model '{router.name}' timed out after {provider.config.timeout:g}s.")
            except UpstreamError as exc:
                if not exc.retryable:
                    raise
                last = exc
            else:
                latency_ms = (time.perf_counter() - started) * 1000
                stats.record_success(latency_ms, latency_ms, None)  # no stream: first token = whole answer
                return result, provider, latency_ms
            finally:
                self._done(router, provider)
            self._failed(router, provider, last)
        assert last is not None
        raise last

    async def _admit(
        self, ctx: CallContext, router: RouterRuntime, prompt: Any, max_tokens: int | None
    ) -> Admission:
        prices = (router.cost_prompt_tokens, router.cost_completion_tokens)
        return await self.accountant.admit(
            ctx, router.id, router.name, prices, estimate_tokens(prompt), max_tokens
        )

    async def _settled_call(
        self,
        ctx: CallContext,
        router: RouterRuntime,
        endpoint: Endpoint,
        prompt: Any,
        max_tokens: int | None,
        invoke: Callable[[ProviderRuntime], Awaitable[T]],
    ) -> tuple[T, ProviderRuntime, Admission, float]:
        admission = await self._admit(ctx, router, prompt, max_tokens)
        try:
            result, provider, latency_ms = await self._call(router, endpoint, ctx.principal.priority, invoke)
        except AppError as exc:
            await self.accountant.fail(admission, exc.status_code)
            raise
        return result, provider, admission, latency_ms

    # -- chat and completions ----------------------------------------------------------------------

    def _checked(self, body: dict[str, Any], endpoint: Endpoint) -> RouterRuntime:
        """The router of a generation request whose messages any provider of it could take."""
        router = self.resolve(body.get("model"), endpoint)
        if endpoint == Endpoint.CHAT:
            check_chat(body, accepts_images=router.type == ModelType.IMAGE_TEXT_TO_TEXT)
        return router

    async def generate(self, ctx: CallContext, endpoint: Endpoint, body: dict[str, Any]) -> dict[str, Any]:
        router = self._checked(body, endpoint)
        prompt = body.get("messages") if endpoint == Endpoint.CHAT else body.get("prompt")

        async def invoke(provider: ProviderRuntime) -> dict[str, Any]:
            upstream = {**body, "model": provider.config.model_name}
            if endpoint == Endpoint.CHAT:
                return await provider.adapter.chat(upstream)
            return await provider.adapter.completions(upstream)

        answer, provider, admission, latency_ms = await self._settled_call(
            ctx, router, endpoint, prompt, _max_tokens(body), invoke
        )
        answer["model"] = router.name
        usage = normalize_usage(answer.get("usage"), prompt, answer.get("choices"))
        if usage["completion_tokens"]:
            provider.stats.ms_per_token.add(latency_ms / usage["completion_tokens"])
        answer["usage"] = await self.accountant.settle(admission, _facts(provider), usage)
        return answer

    async def generate_stream(
        self, ctx: CallContext, endpoint: Endpoint, body: dict[str, Any]
    ) -> AsyncIterator[StreamEvent]:
        """Open the stream on the first provider that yields a first event (failing over before that),
        then hand back an iterator over the rest. Errors before the first byte raise; after, they are
        yielded as ErrorEvent."""
        router = self._checked(body, endpoint)
        prompt = body.get("messages") if endpoint == Endpoint.CHAT else body.get("prompt")
        admission = await self._admit(ctx, router, prompt, _max_tokens(body))
        stream_options = {**(body.get("stream_options") or {}), "include_usage": True}
        last: AppError | None = None
        try:
            providers = await self._providers(router, endpoint, ctx.principal.priority)
        except AppError as exc:
            await self.accountant.fail(admission, exc.status_code)
            raise
        for provider in providers:
            upstream = {
                **body,
                "model": provider.config.model_name,
                "stream": True,
                "stream_options": stream_options,
            }
            opener = (
                provider.adapter.chat_stream
                if endpoint == Endpoint.CHAT
                else provider.adapter.completions_stream
            )
            events = opener(upstream)
            provider.stats.inflight += 1
            started = time.perf_counter()
            try:
                first = await asyncio.wait_for(anext(events), timeout=provider.config.timeout)
            except (TimeoutError, AppError, StopAsyncIteration) as exc:
                self._done(router, provider)
                await events.aclose()
                if isinstance(exc, AppError) and not getattr(exc, "retryable", False):
                    # the request's own fault (upstream 4xx, a local model's 400): no failover
                    await self.accountant.fail(admission, exc.status_code, provider.id)
                    raise
                last = (
                    exc
                    if isinstance(exc, UpstreamError)
                    else UpstreamTimeout(
                        f"Model '{router.name}' timed out after {provider.config.timeout:g}s."
                    )
                    if isinstance(exc, TimeoutError)
                    else UpstreamError(f"Model '{router.name}' returned an empty stream.")
                )
                self._failed(router, provider, last)
                continue
            return self._relay(router, provider, admission, events, first, started, prompt)
        assert last is not None
        await self.accountant.fail(admission, last.status_code)
        raise last

    async def _relay(
        self,
        router: RouterRuntime,
        provider: ProviderRuntime,
        admission: Admission,
        events: AsyncIterator[StreamEvent],
        first: StreamEvent,
        started: float,
        prompt: Any,
    ) -> AsyncIterator[StreamEvent]:
        ttft_ms = (time.perf_counter() - started) * 1000
        usage: dict[str, Any] | None = None
        text_parts: list[str] = []
        error: UpstreamError | None = None
        try:
            event: StreamEvent | None = first
            while event is not None:
                if isinstance(event, UsageEvent):
                    usage = event.usage
                elif isinstance(event, ChunkEvent):
                    event.payload["model"] = router.name
                    _collect_text(event.payload, text_parts)
                    yield event
                event = await anext(events, None)
        except UpstreamError as exc:
            error = exc
        finally:
            self._done(router, provider)
            await events.aclose()
            final = normalize_usage(usage, prompt, "".join(text_parts))
            if not admission.settled:  # also when the client went away: what was generated is billed
                status = error.status_code if error else 200
                final = await self.accountant.settle(admission, _facts(provider), final, ttft_ms, status)
        latency_ms = (time.perf_counter() - started) * 1000
        if error is not None:
            self._failed(router, provider, error)
            yield ErrorEvent(f"Stream interrupted: {error.message}", code=error.code)
            return
        provider.stats.record_success(latency_ms, ttft_ms, final["completion_tokens"])
        yield UsageEvent(final)

    # -- local tokenizer (llama-cpp-python's /extras) ----------------------------------------------

    def local_llama(self, name: str | None) -> LlamaEngine:
        """The llama.cpp engine behind a model (default: the first local chat model)."""
        routers = [self.resolve(name, Endpoint.CHAT)] if name else self.registry.routers()
        for router in routers:
            for provider in router.providers:
                engine = getattr(provider.adapter, "engine", None)
                if isinstance(engine, LlamaEngine):
                    return engine
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
                    return await asyncio.wait_for(counter(body), timeout=provider.config.timeout)
                except (AppError, TimeoutError):
                    break
        engine = next(
            (
                p.adapter.engine
                for p in router.providers
                if isinstance(getattr(p.adapter, "engine", None), LlamaEngine)
            ),
            None,
        )
        if engine is None:
            return estimate_tokens(messages) + estimate_tokens(tools)
        text = "\n".join(_message_text(m) for m in messages)
        if tools:
            text += "\n" + orjson.dumps(tools).decode()
        return len(await engine.tokenize(text))

    # -- embeddings, rerank, audio, ocr ------------------------------------------------------------

    async def embeddings(self, ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
        router = self.resolve(body.get("model"), Endpoint.EMBEDDINGS)

        async def invoke(provider: ProviderRuntime) -> dict[str, Any]:
            return await provider.adapter.embeddings({**body, "model": provider.config.model_name})

        answer, provider, admission, _ = await self._settled_call(
            ctx, router, Endpoint.EMBEDDINGS, body.get("input"), 0, invoke
        )
        answer["model"] = router.name
        usage = normalize_usage(answer.get("usage"), body.get("input"), None)
        answer["usage"] = await self.accountant.settle(admission, _facts(provider), usage)
        return answer

    async def rerank(
        self, ctx: CallContext, model: str, query: str, documents: list[str], top_n: int | None
    ) -> dict[str, Any]:
        router = self.resolve(model, Endpoint.RERANK)

        async def invoke(provider: ProviderRuntime) -> dict[str, Any]:
            return await provider.adapter.rerank(query, documents, top_n)

        answer, provider, admission, _ = await self._settled_call(
            ctx, router, Endpoint.RERANK, [query, *documents], 0, invoke
        )
        tokens = answer.get("prompt_tokens")
        reported = {"prompt_tokens": tokens, "completion_tokens": 0} if tokens is not None else None
        usage = normalize_usage(reported, [query, *documents], None)
        return {
            "object": "list",
            "id": f"rerank-{uuid.uuid4().hex}",
            "model": router.name,
            "results": answer["results"],
            "usage": await self.accountant.settle(admission, _facts(provider), usage),
        }

    async def transcribe(
        self, ctx: CallContext, model: str, file: FilePart, fields: dict[str, str]
    ) -> dict[str, Any] | RawResponse:
        router = self.resolve(model, Endpoint.TRANSCRIPTION)

        async def invoke(provider: ProviderRuntime) -> dict[str, Any] | RawResponse:
            return await provider.adapter.transcribe(file, {**fields, "model": provider.config.model_name})

        answer, provider, admission, _ = await self._settled_call(
            ctx, router, Endpoint.TRANSCRIPTION, None, 0, invoke
        )
        text = answer.get("text") if isinstance(answer, dict) else answer.content.decode(errors="replace")
        usage = normalize_usage(None, None, text)
        settled = await self.accountant.settle(admission, _facts(provider), usage)
        if isinstance(answer, dict):
            answer["model"] = router.name
            answer["usage"] = settled
        return answer

    async def ocr(self, ctx: CallContext, body: dict[str, Any]) -> dict[str, Any]:
        router = self.resolve(body.get("model"), Endpoint.OCR)

        async def invoke(provider: ProviderRuntime) -> dict[str, Any]:
            return await provider.adapter.ocr({**body, "model": provider.config.model_name})

        answer, provider, admission, _ = await self._settled_call(ctx, router, Endpoint.OCR, None, 0, invoke)
        answer["model"] = router.name
        answer.setdefault("id", f"ocr-{uuid.uuid4().hex}")
        pages = answer.get("pages") or []
        usage = normalize_usage(answer.get("usage"), None, [p.get("markdown") for p in pages])
        answer["usage"] = await self.accountant.settle(admission, _facts(provider), usage)
        return answer


def _max_tokens(body: dict[str, Any]) -> int | None:
    value = body.get("max_completion_tokens") or body.get("max_tokens")
    return int(value) * int(body.get("n") or 1) if value else None


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    calls = "".join(
        str((c.get("function") or {}).get("arguments", "")) for c in message.get("tool_calls") or ()
    )
    return f"{message.get('role', '')}: {content or ''}{calls}"


def _collect_text(payload: dict[str, Any], parts: list[str]) -> None:
    for choice in payload.get("choices") or ():
        delta = choice.get("delta") or {}
        text = delta.get("content") if delta else choice.get("text")
        if text:
            parts.append(text)
