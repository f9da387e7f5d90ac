"""A streamed generation: fail over until a provider yields its first chunk, then relay within bounds
(idle timeout, total deadline, chunk cap), and settle exactly once whatever ends it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from lockgate.accounting.service import Admission
from lockgate.errors import AppError, UpstreamBadGateway, UpstreamError, UpstreamTimeout
from lockgate.gateway import answers
from lockgate.gateway.events import ChunkEvent, ErrorEvent, StreamEvent, UsageEvent
from lockgate.gateway.registry import ProviderRuntime, RouterRuntime
from lockgate.gateway.schemas import Endpoint
from lockgate.gateway.settlement import CLIENT_CLOSED, facts, release_admission
from lockgate.gateway.usage import normalize_usage, requested_tokens

if TYPE_CHECKING:
    from lockgate.gateway.service import GatewayService


class StreamRelay:
    def __init__(
        self,
        gateway: GatewayService,
        router: RouterRuntime,
        endpoint: Endpoint,
        body: dict[str, Any],
        admission: Admission,
        prompt: Any,
    ):
        self._gateway = gateway
        self._router = router
        self._endpoint = endpoint
        self._body = body
        self._admission = admission
        self._prompt = prompt

    async def open(self, priority: int) -> AsyncIterator[StreamEvent]:
        """The events, once a provider has produced its first one. Raises (AppError) before that, with
        the admission already given back."""
        events = self._run(priority)
        try:
            first = await anext(events)
        except BaseException:
            await events.aclose()
            raise
        return _prepend(first, events)

    async def _run(self, priority: int) -> AsyncIterator[StreamEvent]:
        admission, accountant = self._admission, self._gateway.accountant
        provider: ProviderRuntime | None = None
        usage: dict[str, Any] | None = None
        parts: list[str] = []
        ttft_ms: float | None = None
        try:
            provider, events, first, ttft_ms = await self._first(priority)
            error: AppError | None = None
            try:
                event: StreamEvent | None = first
                while event is not None:
                    if isinstance(event, UsageEvent):
                        usage = event.usage
                    elif isinstance(event, ChunkEvent):
                        event.payload["model"] = self._router.name
                        _collect_text(event.payload, parts)
                        yield event
                    event = await anext(events, None)
            except AppError as exc:
                error = exc
            finally:
                await events.aclose()
            final = normalize_usage(usage, self._prompt, "".join(parts))
            status = error.status_code if error else 200
            final = await accountant.settle(admission, facts(provider), final, ttft_ms, status)
            if error is not None:
                yield ErrorEvent(f"Stream interrupted: {error.message}", code=error.code)
            else:
                yield UsageEvent(final)
        except BaseException as exc:
            if admission.settled:
                raise
            if provider is None:  # nothing was sent: holds back, failure recorded
                await release_admission(accountant, admission, exc)
            else:  # the client left mid-stream (or a bug): what was generated is billed
                final = normalize_usage(usage, self._prompt, "".join(parts))
                status = exc.status_code if isinstance(exc, AppError) else CLIENT_CLOSED
                settle = accountant.settle(admission, facts(provider), final, ttft_ms, status)
                await asyncio.shield(settle)
            raise

    async def _first(
        self, priority: int
    ) -> tuple[ProviderRuntime, AsyncIterator[StreamEvent], StreamEvent, float]:
        """The first provider whose stream yields an event: (provider, rest, first event, ttft in ms)."""
        last: UpstreamError | None = None
        for provider in await self._gateway._providers(self._router, self._endpoint, priority):
            started = time.perf_counter()
            events = self._attempt(provider)
            try:
                first = await anext(events)
            except UpstreamError as exc:
                await events.aclose()
                if not exc.retryable:
                    raise
                last = exc
                continue
            return provider, events, first, (time.perf_counter() - started) * 1000
        assert last is not None
        raise last

    async def _attempt(self, provider: ProviderRuntime) -> AsyncIterator[StreamEvent]:
        """One provider's stream, checked and bounded. Runs inside the gateway's attempt, so whatever
        goes wrong (unreadable chunk, cut, timeout) leaves as a classified UpstreamError and the
        provider's in-flight count is given back."""
        bounds, router = self._gateway.bounds, self._router
        stream_options = {**(self._body.get("stream_options") or {}), "include_usage": True}
        upstream = {
            **self._body,
            "model": provider.config.model_name,
            "stream": True,
            "stream_options": stream_options,
        }
        adapter = provider.adapter
        cap = bounds.chunk_cap(requested_tokens(self._body), int(self._body.get("n") or 1))
        deadline = time.monotonic() + bounds.stream_deadline_seconds
        attempts = self._gateway.attempt
        async with attempts(router, provider, self._endpoint, current=False) as attempt:
            opener = adapter.chat_stream if self._endpoint == Endpoint.CHAT else adapter.completions_stream
            events = opener(upstream)
            chunks = 0
            span, tracing = attempt.span, attempts.tracing
            try:
                with attempts.traced(attempt):  # the upstream request opens here: it carries the span
                    event = await self._next(events, provider, deadline)
                while event is not None:
                    if isinstance(event, ChunkEvent):
                        answers.chunk(event.payload)
                        chunks += 1
                        if chunks > cap:
                            raise UpstreamBadGateway(
                                f"Model '{router.name}' streamed more than {cap} chunks for this request."
                            )
                        attempt.first_output()
                        if span is not None:
                            tracing.chunk(span, event.payload, chunks == 1)  # type: ignore[union-attr]
                    elif isinstance(event, UsageEvent):
                        checked = answers.usage(event.usage)
                        if checked and checked.get("completion_tokens") is not None:
                            attempt.completion_tokens = int(checked["completion_tokens"])
                        if span is not None:
                            tracing.usage(span, checked)  # type: ignore[union-attr]
                    yield event
                    event = await self._next(events, provider, deadline)
                if not chunks:
                    raise UpstreamBadGateway(f"Model '{router.name}' returned an empty stream.")
                if attempt.completion_tokens is None:
                    attempt.completion_tokens = chunks
            finally:
                await events.aclose()

    async def _next(
        self, events: AsyncIterator[StreamEvent], provider: ProviderRuntime, deadline: float
    ) -> StreamEvent | None:
        """The next event, waiting at most the provider's timeout (idle: only events count, not the
        comments an upstream sends to keep the connection open) and never past the stream's deadline."""
        idle = provider.config.timeout
        left = deadline - time.monotonic()
        wait = min(idle, left)
        try:
            if wait <= 0:
                raise TimeoutError
            async with asyncio.timeout(wait):
                return await anext(events, None)
        except TimeoutError:
            name = self._router.name
            if left <= idle:
                total = self._gateway.bounds.stream_deadline_seconds
                raise UpstreamTimeout(f"Model '{name}' streamed for longer than {total:g}s.") from None
            raise UpstreamTimeout(f"Model '{name}' sent nothing for {idle:g}s.") from None


async def _prepend(first: StreamEvent, rest: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
    try:
        yield first
        async for event in rest:
            yield event
    finally:
        await rest.aclose()  # type: ignore[attr-defined]


def _collect_text(payload: dict[str, Any], parts: list[str]) -> None:
    for choice in payload.get("choices") or ():
        delta = choice.get("delta") or {}
        text = delta.get("content") if isinstance(delta, dict) and delta else choice.get("text")
        if isinstance(text, str) and text:
            parts.append(text)
