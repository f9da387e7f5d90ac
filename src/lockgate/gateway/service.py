"""Inference through routers: choose a provider, call it, fail over, measure, never block the loop."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from lockgate.errors import (
    BadRequest,
    NotFound,
    ServiceUnavailable,
    UpstreamBadGateway,
    UpstreamError,
    UpstreamTimeout,
)
from lockgate.gateway.events import ChunkEvent, ErrorEvent, StreamEvent, UsageEvent
from lockgate.gateway.providers.base import FilePart, RawResponse
from lockgate.gateway.registry import ModelRegistry, ProviderRuntime, RouterRuntime
from lockgate.gateway.schemas import ENDPOINT_MODEL_TYPES, Endpoint, Strategy
from lockgate.gateway.usage import normalize_usage

T = TypeVar("T")


class GatewayService:
    def __init__(self, registry: ModelRegistry, failure_threshold: int = 3, cooldown_seconds: float = 30.0):
        self.registry = registry
        self._threshold = failure_threshold
        self._cooldown = cooldown_seconds

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
        usable = [p for p in providers if p.stats.healthy and not p.stats.cooling_down(now)]
        if not usable:
            waits = [p.stats.cooldown_until - now for p in providers if p.stats.cooling_down(now)]
            raise ServiceUnavailable(
                f"No provider of model '{router.name}' is available right now.",
                retry_after=min(waits) if waits else 15,
            )
        within = [p for p in usable if not p.stats.over_limit(p.qos_metric, p.qos_limit)]
        if not within:
            raise ServiceUnavailable(f"Model '{router.name}' is at capacity; retry shortly.", retry_after=1)
        if router.strategy == Strategy.LEAST_BUSY:
            return sorted(within, key=lambda p: (p.stats.inflight, random.random()))
        return random.sample(within, len(within))

    async def _call(
        self, router: RouterRuntime, endpoint: Endpoint, invoke: Callable[[ProviderRuntime], Awaitable[T]]
    ) -> tuple[T, ProviderRuntime, float]:
        """Try providers in order until one answers; retry only failures that are the provider's fault."""
        last: UpstreamError | None = None
        for provider in self.candidates(router, endpoint):
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
                return result, provider, (time.perf_counter() - started) * 1000
            finally:
                stats.inflight -= 1
            stats.record_failure(self._threshold, self._cooldown)
        assert last is not None
        raise last

    # -- chat and completions ----------------------------------------------------------------------

    async def generate(self, endpoint: Endpoint, body: dict[str, Any]) -> dict[str, Any]:
        router = self.resolve(body.get("model"), endpoint)

        async def invoke(provider: ProviderRuntime) -> dict[str, Any]:
            upstream = {**body, "model": provider.config.model_name}
            if endpoint == Endpoint.CHAT:
                return await provider.adapter.chat(upstream)
            return await provider.adapter.completions(upstream)

        answer, provider, latency_ms = await self._call(router, endpoint, invoke)
        answer["model"] = router.name
        prompt = body.get("messages") if endpoint == Endpoint.CHAT else body.get("prompt")
        answer["usage"] = normalize_usage(answer.get("usage"), prompt, answer.get("choices"))
        provider.stats.record_success(latency_ms, latency_ms, answer["usage"]["completion_tokens"])
        return answer

    async def generate_stream(self, endpoint: Endpoint, body: dict[str, Any]) -> AsyncIterator[StreamEvent]:
        """Open the stream on the first provider that yields a first event (failing over before that),
        then hand back an iterator over the rest. Errors before the first byte raise; after, they are
        yielded as ErrorEvent."""
        router = self.resolve(body.get("model"), endpoint)
        stream_options = {**(body.get("stream_options") or {}), "include_usage": True}
        last: UpstreamError | None = None
        for provider in self.candidates(router, endpoint):
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
            except (TimeoutError, UpstreamError, StopAsyncIteration) as exc:
                provider.stats.inflight -= 1
                await events.aclose()
                if isinstance(exc, UpstreamError) and not exc.retryable:
                    raise
                last = (
                    exc
                    if isinstance(exc, UpstreamError)
                    else UpstreamTimeout(
                        f"Model '{router.name}' timed out after {provider.config.timeout:g}s."
                    )
                    if isinstance(exc, TimeoutError)
                    else UpstreamBadGateway(f"Model '{router.name}' returned an empty stream.")
                )
                provider.stats.record_failure(self._threshold, self._cooldown)
                continue
            prompt = body.get("messages") if endpoint == Endpoint.CHAT else body.get("prompt")
            return self._relay(router, provider, events, first, started, prompt)
        assert last is not None
        raise last

    async def _relay(
        self,
        router: RouterRuntime,
        provider: ProviderRuntime,
        events: AsyncIterator[StreamEvent],
        first: StreamEvent,
        started: float,
        prompt: Any,
    ) -> AsyncIterator[StreamEvent]:
        ttft_ms = (time.perf_counter() - started) * 1000
        usage: dict[str, Any] | None = None
        text_parts: list[str] = []
        failed = False
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
            failed = True
            yield ErrorEvent(f"Stream interrupted: {exc.message}", code=exc.code)
            return
        finally:
            provider.stats.inflight -= 1
            await events.aclose()
            if failed:
                provider.stats.record_failure(self._threshold, self._cooldown)
        final = normalize_usage(usage, prompt, "".join(text_parts))
        latency_ms = (time.perf_counter() - started) * 1000
        provider.stats.record_success(latency_ms, ttft_ms, final["completion_tokens"])
        yield UsageEvent(final)

    # -- embeddings, rerank, audio, ocr ------------------------------------------------------------

    async def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        router = self.resolve(body.get("model"), Endpoint.EMBEDDINGS)

        async def invoke(provider: ProviderRuntime) -> dict[str, Any]:
            return await provider.adapter.embeddings({**body, "model": provider.config.model_name})

        answer, provider, latency_ms = await self._call(router, Endpoint.EMBEDDINGS, invoke)
        answer["model"] = router.name
        answer["usage"] = normalize_usage(answer.get("usage"), body.get("input"), None)
        provider.stats.record_success(latency_ms, latency_ms, None)
        return answer

    async def rerank(self, model: str, query: str, documents: list[str], top_n: int | None) -> dict[str, Any]:
        router = self.resolve(model, Endpoint.RERANK)

        async def invoke(provider: ProviderRuntime) -> dict[str, Any]:
            return await provider.adapter.rerank(query, documents, top_n)

        answer, provider, latency_ms = await self._call(router, Endpoint.RERANK, invoke)
        provider.stats.record_success(latency_ms, latency_ms, None)
        tokens = answer.get("prompt_tokens")
        usage = normalize_usage(
            {"prompt_tokens": tokens, "completion_tokens": 0} if tokens is not None else None,
            [query, *documents],
            None,
        )
        return {
            "object": "list",
            "id": f"rerank-{uuid.uuid4().hex}",
            "model": router.name,
            "results": answer["results"],
            "usage": usage,
        }

    async def transcribe(
        self, model: str, file: FilePart, fields: dict[str, str]
    ) -> dict[str, Any] | RawResponse:
        router = self.resolve(model, Endpoint.TRANSCRIPTION)

        async def invoke(provider: ProviderRuntime) -> dict[str, Any] | RawResponse:
            return await provider.adapter.transcribe(file, {**fields, "model": provider.config.model_name})

        answer, provider, latency_ms = await self._call(router, Endpoint.TRANSCRIPTION, invoke)
        provider.stats.record_success(latency_ms, latency_ms, None)
        if isinstance(answer, dict):
            answer.setdefault("model", router.name)
        return answer

    async def ocr(self, body: dict[str, Any]) -> dict[str, Any]:
        router = self.resolve(body.get("model"), Endpoint.OCR)

        async def invoke(provider: ProviderRuntime) -> dict[str, Any]:
            return await provider.adapter.ocr({**body, "model": provider.config.model_name})

        answer, provider, latency_ms = await self._call(router, Endpoint.OCR, invoke)
        provider.stats.record_success(latency_ms, latency_ms, None)
        answer["model"] = router.name
        answer.setdefault("id", f"ocr-{uuid.uuid4().hex}")
        answer["usage"] = normalize_usage(answer.get("usage"), None, None)
        return answer


def _collect_text(payload: dict[str, Any], parts: list[str]) -> None:
    for choice in payload.get("choices") or ():
        delta = choice.get("delta") or {}
        text = delta.get("content") if delta else choice.get("text")
        if text:
            parts.append(text)
