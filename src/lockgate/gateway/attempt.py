"""One try of one provider, for calls and streams alike: the in-flight count, timing, the classification of
whatever went wrong, and the cool-down, written once.

    async with attempts(router, provider) as attempt:
        answer = await provider.adapter.chat(body)      # read, parse, validate inside the block

Inside the block, any exception is the provider's answer failing: it leaves the block as an AppError —
an UpstreamError (retryable unless the upstream refused the request itself) or the request's own
error — and the in-flight count is given back in a `finally`, whatever happened (cancellation too)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from lockgate.errors import AppError, UpstreamBadGateway, UpstreamError, UpstreamRateLimited, UpstreamTimeout
from lockgate.gateway import health
from lockgate.gateway.runtime import ProviderRuntime, RouterRuntime

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from lockgate.ops.tracing import Tracing

# Longest rest a provider's own Retry-After can impose on it.
MAX_PROVIDER_REST_SECONDS = 300.0
_UNTRACED = contextlib.nullcontext()  # reusable: what an attempt enters when tracing is off

T = TypeVar("T")


@dataclass(slots=True)
class Attempt:
    router: RouterRuntime
    provider: ProviderRuntime
    started: float = field(default_factory=time.perf_counter)
    ttft_ms: float | None = None
    completion_tokens: int | None = None  # set by streams when known: QoS ms/token
    span: Span | None = None  # the model call's trace span, when tracing is on

    def first_output(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = self.elapsed_ms()

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


def classify(exc: BaseException, router: RouterRuntime, provider: ProviderRuntime) -> AppError | None:
    """The error a failed attempt becomes, or None when it is no failure (cancelled, client gone).

    The one place that decides what a provider failure is: transport errors arrive as UpstreamError from
    the adapters; a timeout, an empty stream or anything unreadable (KeyError, TypeError, ValueError…
    raised while parsing an answer) is a retryable 502/504; the request's own errors pass through."""
    if not isinstance(exc, Exception):
        return None  # CancelledError, GeneratorExit, KeyboardInterrupt: not the provider's fault
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(f"Model '{router.name}' timed out after {provider.config.timeout:g}s.")
    if isinstance(exc, StopAsyncIteration):
        return UpstreamBadGateway(f"Model '{router.name}' returned an empty stream.")
    return UpstreamBadGateway(
        f"Model '{router.name}' sent an answer that could not be read ({type(exc).__name__})."
    )


class Attempts:
    """Opens attempts; `on_release(router)` runs after each one (the router's capacity gate)."""

    def __init__(
        self,
        failure_threshold: int,
        cooldown_seconds: float,
        on_release: Callable[[RouterRuntime], None],
        tracing: Tracing | None = None,
    ):
        self._threshold = failure_threshold
        self._cooldown = cooldown_seconds
        self._on_release = on_release
        self.tracing = tracing

    @asynccontextmanager
    async def __call__(
        self,
        router: RouterRuntime,
        provider: ProviderRuntime,
        endpoint: str | None = None,
        current: bool = True,
    ) -> AsyncIterator[Attempt]:
        """`endpoint` names the operation in the trace. `current`: the model call's span is the current one
        inside the block (False for streams, whose block spans several tasks: they use `traced`)."""
        stats = provider.stats
        stats.inflight += 1
        attempt = Attempt(router, provider)
        tracing = self.tracing
        made_current: contextlib.AbstractContextManager[Any] = _UNTRACED
        if tracing is not None:
            config = provider.config
            attempt.span = tracing.start_model_call(
                endpoint, router.name, config.type, config.model_name, config.url
            )
            if current:
                made_current = tracing.current(attempt.span)
        try:
            with made_current:
                yield attempt
        except BaseException as exc:
            error = classify(exc, router, provider)
            if attempt.span is not None and isinstance(error, Exception):
                tracing.failed(attempt.span, error)  # type: ignore[union-attr]
            if error is None:
                raise
            if isinstance(error, UpstreamError) and error.retryable:
                self._failed(attempt, error)
            if error is exc:
                raise
            raise error from exc
        else:
            latency_ms = attempt.elapsed_ms()
            ttft_ms = attempt.ttft_ms if attempt.ttft_ms is not None else latency_ms
            stats.record_success(latency_ms, ttft_ms, attempt.completion_tokens)
        finally:
            stats.inflight -= 1
            self._on_release(router)
            if attempt.span is not None:
                attempt.span.end()

    def traced(self, attempt: Attempt) -> contextlib.AbstractContextManager[Any]:
        """The attempt's span made current for a block (a stream's opening call), when tracing is on."""
        if attempt.span is None or self.tracing is None:
            return _UNTRACED
        return self.tracing.current(attempt.span)

    def _failed(self, attempt: Attempt, error: UpstreamError) -> None:
        provider = attempt.provider
        health.failed(
            provider, attempt.router.name, error.message, error.status_code, self._threshold, self._cooldown
        )
        if isinstance(error, UpstreamRateLimited) and error.retry_after:  # rest as long as it asks
            rest = min(error.retry_after, MAX_PROVIDER_REST_SECONDS)
            stats = provider.stats
            stats.cooldown_until = max(stats.cooldown_until, time.monotonic() + rest)


async def failover(
    providers: list[ProviderRuntime], try_one: Callable[[ProviderRuntime], Awaitable[T]]
) -> tuple[T, ProviderRuntime]:
    """`try_one` on each provider in order until one succeeds (calls and streams alike): a retryable
    UpstreamError moves on to the next provider, anything else leaves at once, and when every provider
    failed the last failure is raised. `providers` is never empty (the router's candidates)."""
    last: UpstreamError | None = None
    for provider in providers:
        try:
            return await try_one(provider), provider
        except UpstreamError as exc:
            if not exc.retryable:
                raise
            last = exc
    assert last is not None, "failover over no provider"
    raise last
