"""A streamed generation: fail over until a provider yields its first chunk, then relay within bounds
(idle timeout, total deadline, chunk cap), and settle exactly once whatever ends it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from lockgate.accounting.schemas import Usage
from lockgate.accounting.service import Accountant, Admission
from lockgate.errors import AppError, UpstreamBadGateway, UpstreamTimeout
from lockgate.gateway import answers
from lockgate.gateway.attempt import Attempts, failover
from lockgate.gateway.bounds import UpstreamBounds
from lockgate.gateway.events import ChunkEvent, ErrorEvent, StreamEvent, StreamEvents, UsageEvent
from lockgate.gateway.request import GenerationRequest
from lockgate.gateway.runtime import ProviderRuntime, RouterRuntime
from lockgate.gateway.schemas import Endpoint
from lockgate.gateway.settlement import CLIENT_CLOSED, facts, release_admission
from lockgate.gateway.usage import normalize_usage


class StreamRelay:
    def __init__(
        self,
        accountant: Accountant,
        attempts: Attempts,
        bounds: UpstreamBounds,
        router: RouterRuntime,
        request: GenerationRequest,
        admission: Admission,
        prompt_tokens: int,
    ):
        self._accountant = accountant
        self._attempts = attempts
        self._bounds = bounds
        self._router = router
        self._request = request
        self._admission = admission
        self._prompt_tokens = prompt_tokens

    async def open(self, providers: Callable[[], Awaitable[list[ProviderRuntime]]]) -> StreamEvents:
        """The events, once one of `providers()` (in order) has produced its first one. Raises (AppError)
        before that, with the admission already given back."""
        events = self._run(providers)
        try:
            first = await anext(events)
        except BaseException:
            await events.aclose()
            raise
        return _prepend(first, events)

    async def _run(self, providers: Callable[[], Awaitable[list[ProviderRuntime]]]) -> StreamEvents:
        admission, accountant = self._admission, self._accountant
        provider: ProviderRuntime | None = None
        usage: Usage | None = None
        parts: list[str] = []
        ttft_ms: float | None = None
        try:
            (events, first, ttft_ms), provider = await failover(await providers(), self._open)
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
            final = normalize_usage(usage, self._prompt_tokens, "".join(parts))
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
                final = normalize_usage(usage, self._prompt_tokens, "".join(parts))
                status = exc.status_code if isinstance(exc, AppError) else CLIENT_CLOSED
                settle = accountant.settle(admission, facts(provider), final, ttft_ms, status)
                await asyncio.shield(settle)
            raise

    async def _open(self, provider: ProviderRuntime) -> tuple[StreamEvents, StreamEvent, float]:
        """`provider`'s stream once it yielded its first event: (the stream, first event, ttft in ms)."""
        started = time.perf_counter()
        events = self._attempt(provider)
        try:
            first = await anext(events)
        except BaseException:
            await events.aclose()
            raise
        return events, first, (time.perf_counter() - started) * 1000

    async def _attempt(self, provider: ProviderRuntime) -> StreamEvents:
        """One provider's stream, checked and bounded. Runs inside the gateway's attempt, so whatever
        goes wrong (unreadable chunk, cut, timeout) leaves as a classified UpstreamError and the
        provider's in-flight count is given back."""
        bounds, router = self._bounds, self._router
        request = self._request
        adapter = provider.adapter
        cap = bounds.chunk_cap(request.completion_limit, request.n or 1)
        deadline = time.monotonic() + bounds.stream_deadline_seconds
        attempts = self._attempts
        async with attempts(router, provider, request.endpoint, current=False) as attempt:
            opener = adapter.chat_stream if request.endpoint == Endpoint.CHAT else adapter.completions_stream
            events = opener(request)
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
                        attempt.completion_tokens = event.usage.completion_tokens
                        if span is not None:
                            tracing.usage(span, event.usage.wire())  # type: ignore[union-attr]
                    yield event
                    event = await self._next(events, provider, deadline)
                if not chunks:
                    raise UpstreamBadGateway(f"Model '{router.name}' returned an empty stream.")
                if attempt.completion_tokens is None:
                    attempt.completion_tokens = chunks
            finally:
                await events.aclose()

    async def _next(
        self, events: StreamEvents, provider: ProviderRuntime, deadline: float
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
                total = self._bounds.stream_deadline_seconds
                raise UpstreamTimeout(f"Model '{name}' streamed for longer than {total:g}s.") from None
            raise UpstreamTimeout(f"Model '{name}' sent nothing for {idle:g}s.") from None


async def _prepend(first: StreamEvent, rest: StreamEvents) -> StreamEvents:
    try:
        yield first
        async for event in rest:
            yield event
    finally:
        await rest.aclose()


def _collect_text(payload: dict[str, Any], parts: list[str]) -> None:
    for choice in payload.get("choices") or ():
        delta = choice.get("delta") or {}
        text = delta.get("content") if isinstance(delta, dict) and delta else choice.get("text")
        if isinstance(text, str) and text:
            parts.append(text)
