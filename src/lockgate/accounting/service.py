"""Admission and settlement of billable requests: budgets and rate limits before the upstream call,
real cost, carbon and usage record after."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from lockgate.accounting.carbon import ZERO, cost, footprint
from lockgate.accounting.limits import (
    BUDGET_REFUSED,
    BudgetHold,
    BudgetSettlement,
    Counter,
    Limiter,
    LimiterUnavailable,
    window_counters,
)
from lockgate.accounting.recorder import UsageRecorder
from lockgate.accounting.schemas import Outcome, Usage
from lockgate.errors import AppError
from lockgate.identity.schemas import Principal
from lockgate.kit.ids import unique_hex
from lockgate.ops.access import RateLimitWindow, note_rate_limits, note_usage
from lockgate.ops.metrics import Metrics

# Completion tokens held against a budget when the request sets no max_tokens.
DEFAULT_COMPLETION_RESERVE = 512


log = logging.getLogger("lockgate.accounting")

# What a request that failed before any output used.
_NOTHING = Usage()


class RateLimited(AppError):
    status_code = 429
    code = "rate_limit_exceeded"


class BudgetExceeded(AppError):
    # Payment Required; the routes OpenGateLLM also serves render it as its 400 (api/errors.py).
    status_code = 402
    code = "insufficient_budget"


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who calls which endpoint: what accounting needs to know about a request."""

    principal: Principal
    endpoint: str  # e.g. "/v1/chat/completions"
    method: str = "POST"
    request_id: str = field(default_factory=unique_hex)


@dataclass(slots=True)
class Admission:
    context: CallContext
    router_id: int
    model: str
    prices: tuple[float, float]
    counters: list[Counter]
    reserved_tokens: int
    reserved_cost: float
    started: float = field(default_factory=time.perf_counter)
    settled: bool = False


class ProviderFacts(NamedTuple):  # built for every settled request
    id: int | None
    active_params: int
    total_params: int
    zone: str


class Accountant:
    def __init__(
        self,
        limiter: Limiter,
        recorder: UsageRecorder,
        metrics: Metrics | None = None,
        provider_name: Callable[[int], str] = str,
    ):
        """`provider_name`: a provider's name for metrics and the access log, from its ID."""
        self.limiter = limiter
        self.recorder = recorder
        self.metrics = metrics
        self._provider_name = provider_name

    async def admit(
        self,
        context: CallContext,
        router_id: int,
        model: str,
        prices: tuple[float, float],
        prompt_tokens: int,
        max_completion_tokens: int | None,
    ) -> Admission:
        """Refuse (402/429) before any upstream call, or hold what the request may use.

        Token limits hold the prompt plus the requested max_tokens (if any) and are corrected with the
        real count after; budgets hold the worst case (max_tokens, or a default reserve)."""
        principal = context.principal
        tokens = prompt_tokens + (max_completion_tokens or 0)
        budget_completion = (
            DEFAULT_COMPLETION_RESERVE if max_completion_tokens is None else max_completion_tokens
        )
        counters: list[Counter] = []
        reserved_cost = 0.0
        if not principal.is_master:
            limits = {lim.type: lim.value for lim in principal.limits if lim.router == router_id}
            counters = window_counters(principal.user_id, router_id, limits, 1, tokens, time.time())
            hold = None
            if principal.budget is not None and any(prices):
                reserved_cost = cost(prompt_tokens, budget_completion, *prices)
                hold = BudgetHold(principal.user_id, principal.budget, reserved_cost)
            observed: list[int] = []
            try:
                refused = await self.limiter.admit(counters, hold, observed)
            except LimiterUnavailable:
                self._refused(model, "limiter_unavailable")
                raise
            if refused is not None:
                self._refused(model, refused if isinstance(refused, str) else refused.label)
            if refused == BUDGET_REFUSED:
                raise BudgetExceeded(f"Budget exhausted: this request needs up to {reserved_cost:.6f}.")
            if counters:
                note_rate_limits(_tightest(counters, observed, refused))
            if isinstance(refused, Counter):
                retry_after = max(1, int(refused.window_end - time.time() + 0.999))
                unit = "requests" if refused.label.startswith("r") else "tokens"
                raise RateLimited(
                    f"Rate limit exceeded: {refused.label} = {refused.limit} {unit} for model '{model}'.",
                    headers={"Retry-After": str(retry_after)},
                )
        return Admission(context, router_id, model, prices, counters, tokens, reserved_cost)

    async def settle(
        self,
        admission: Admission,
        provider: ProviderFacts,
        usage: Usage,
        ttft_ms: float | None = None,
        status: int = 200,
    ) -> Usage:
        """Charge the real amounts, record the usage row, and return `usage` with cost and carbon."""
        admission.settled = True
        latency_ms = (time.perf_counter() - admission.started) * 1000
        prompt, completion = usage.prompt_tokens, usage.completion_tokens
        spent = cost(prompt, completion, *admission.prices)
        impact = (
            footprint(
                provider.active_params, provider.total_params, provider.zone, completion, latency_ms / 1000
            )
            if completion
            else ZERO
        )
        user_id = admission.context.principal.user_id
        budget = (
            BudgetSettlement(user_id, admission.reserved_cost, spent)
            if admission.reserved_cost or (spent and admission.context.principal.budget is not None)
            else None
        )
        try:
            await self.limiter.release(_token_corrections(admission, prompt + completion), budget)
        except LimiterUnavailable:  # the answer is out: record it whatever the limiter's state
            log.exception("could not settle limits; the usage row is still recorded")
        settled = usage.settled(spent, impact)
        self._record(admission, Outcome(status, settled, latency_ms, provider.id, ttft_ms))
        return settled

    async def fail(self, admission: Admission, status: int, provider_id: int | None = None) -> None:
        """The request failed before any output: give back what was held, record the failure."""
        if admission.settled:
            return
        admission.settled = True
        user_id = admission.context.principal.user_id
        budget = BudgetSettlement(user_id, admission.reserved_cost, 0.0) if admission.reserved_cost else None
        try:
            await self.limiter.release(_token_corrections(admission, 0), budget)
        except LimiterUnavailable:
            log.exception("could not release reservations")
        latency_ms = (time.perf_counter() - admission.started) * 1000
        self._record(admission, Outcome(status, _NOTHING, latency_ms, provider_id))

    def _refused(self, model: str, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.refused(model, kind)

    def _record(self, admission: Admission, outcome: Outcome) -> None:
        context, usage, latency_ms, ttft_ms = (
            admission.context,
            outcome.usage,
            outcome.latency_ms,
            outcome.ttft_ms,
        )
        prompt, completion, spent, impact = (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cost or 0.0,
            usage.carbon,
        )
        provider_id = outcome.provider_id
        provider = self._provider_name(provider_id) if provider_id is not None else None
        note_usage(admission.model, provider, prompt, completion)
        if self.metrics is not None:
            ttft_s = ttft_ms / 1000 if ttft_ms is not None else None
            self.metrics.observe_model(
                admission.model,
                provider or "none",
                context.principal.role_name,
                outcome.status,
                prompt,
                completion,
                spent,
                latency_ms / 1000,
                ttft_s,
            )
        self.recorder.record(
            {
                "request_id": context.request_id,
                "created": int(time.time()),
                "user_id": context.principal.user_id,
                "key_id": context.principal.key_id,
                "key_name": context.principal.key_name,
                "router_id": admission.router_id,
                "model": admission.model,
                "provider_id": provider_id,
                "endpoint": context.endpoint,
                "method": context.method,
                "status": outcome.status,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": usage.total_tokens,
                "estimated": usage.estimated,
                "cost": spent,
                "kwh_min": impact.kwh_min,
                "kwh_max": impact.kwh_max,
                "kgco2eq_min": impact.kgco2_min,
                "kgco2eq_max": impact.kgco2_max,
                "latency_ms": round(latency_ms, 3),
                "ttft_ms": round(ttft_ms, 3) if ttft_ms is not None else None,
            }
        )


def _token_corrections(admission: Admission, used_tokens: int) -> list[tuple[Counter, int]]:
    """Token counters held prompt + max_tokens: correct them to what was really used."""
    delta = used_tokens - admission.reserved_tokens
    return [(counter, delta) for counter in admission.counters if counter.label.startswith("t")]


def _tightest(
    counters: list[Counter], observed: list[int], refused: Counter | str | None
) -> tuple[RateLimitWindow, ...]:
    """Per unit (requests, tokens), the window with the least left: what a client should pace on.
    `observed`: each counter's value after an admitted reservation; a refused counter has 0 left.
    Only the windows kept are built (two for four counters)."""
    best: dict[str, tuple[int, Counter]] = {}
    for index, counter in enumerate(counters):
        if refused is not None:
            if counter is not refused:
                continue
            remaining = 0
        elif index < len(observed):
            remaining = max(0, counter.limit - observed[index])
        else:
            continue
        unit = "requests" if counter.label.startswith("r") else "tokens"
        kept = best.get(unit)
        if kept is None or remaining < kept[0]:
            best[unit] = (remaining, counter)
    now = time.time()
    return tuple(
        RateLimitWindow(unit, counter.limit, remaining, max(1, int(counter.window_end - now + 0.999)))
        for unit, (remaining, counter) in best.items()
    )
