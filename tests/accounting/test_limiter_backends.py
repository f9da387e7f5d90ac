"""Both limiter backends keep the same contract: one admit before the call (budget hold and every
counter, all or nothing) and one release after (token corrections and the budget settlement). The Redis
backend does each in one atomic script, so it is tested against a real Redis, keys unique per test."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator

import pytest

from lockgate.accounting.limits import (
    BUDGET_REFUSED,
    BudgetHold,
    BudgetSettlement,
    Counter,
    Limiter,
    MemoryLimiter,
    RedisLimiter,
)

_users = itertools.count(1_000_000 + int(time.time()) % 1_000_000 * 100)


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[Limiter]:
    if request.param == "memory":
        yield MemoryLimiter()
        return
    backend = RedisLimiter(request.getfixturevalue("redis_url"))
    yield backend
    await backend.close()


def _counter(user: int, label: str, limit: int, amount: int) -> Counter:
    return Counter(f"lg:test:{user}:{label}", limit, amount, ttl=120, label=label, window_end=0.0)


async def test_a_budget_hold_is_refused_once_the_balance_is_held(limiter: Limiter) -> None:
    user = next(_users)
    assert await limiter.admit([], BudgetHold(user, 1.0, 0.6)) is None
    assert await limiter.admit([], BudgetHold(user, 1.0, 0.6)) == BUDGET_REFUSED  # 0.4 left
    await limiter.release([], BudgetSettlement(user, reserved=0.6, spent=0.5))  # 0.5 left, none held
    assert await limiter.admit([], BudgetHold(user, 1.0, 0.5)) is None
    assert await limiter.admit([], BudgetHold(user, 1.0, 0.01)) == BUDGET_REFUSED


async def test_admission_is_all_or_nothing(limiter: Limiter) -> None:
    user = next(_users)
    rpm, tpm = _counter(user, "rpm", 10, 1), _counter(user, "tpm", 100, 60)
    assert await limiter.admit([rpm, tpm], BudgetHold(user, 5.0, 1.0)) is None
    refused = await limiter.admit([rpm, tpm], BudgetHold(user, 5.0, 1.0))
    assert refused == tpm  # 60 + 60 > 100
    # neither the request counter nor the budget kept anything from the refused admission
    assert await limiter.admit([_counter(user, "rpm", 2, 1)], BudgetHold(user, 5.0, 4.0)) is None
    assert await limiter.admit([_counter(user, "rpm", 2, 1)], None) == _counter(user, "rpm", 2, 1)


async def test_release_corrects_token_counters_to_what_was_used(limiter: Limiter) -> None:
    user = next(_users)
    tpm = _counter(user, "tpm", 100, 90)
    assert await limiter.admit([tpm], None) is None
    assert await limiter.admit([_counter(user, "tpm", 100, 20)], None) is not None  # 90 held
    await limiter.release([(tpm, 15 - 90)], None)  # only 15 were used
    assert await limiter.admit([_counter(user, "tpm", 100, 85)], None) is None
    assert await limiter.admit([_counter(user, "tpm", 100, 1)], None) is not None


async def test_a_failed_request_gives_everything_back(limiter: Limiter) -> None:
    user = next(_users)
    tpm = _counter(user, "tpm", 100, 100)
    assert await limiter.admit([tpm], BudgetHold(user, 1.0, 1.0)) is None
    await limiter.release([(tpm, -100)], BudgetSettlement(user, reserved=1.0, spent=0.0))
    assert await limiter.admit([tpm], BudgetHold(user, 1.0, 1.0)) is None
