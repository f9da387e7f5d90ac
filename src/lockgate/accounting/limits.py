"""Rate-limit counters and budget ledgers behind one interface: in process, or in Redis so that every
replica shares one exact count (each check-and-reserve is a single atomic Lua script)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

from lockgate.errors import AppError


class LimiterUnavailable(AppError):
    """The shared limiter (Redis) cannot be reached: refuse rather than count nothing."""

    status_code = 503
    code = "limiter_unavailable"

    def __init__(self, message: str = "Rate limits cannot be checked right now; retry shortly.", **kwargs):
        kwargs.setdefault("headers", {"Retry-After": "5"})
        super().__init__(message, **kwargs)


@dataclass(frozen=True, slots=True)
class Counter:
    """One fixed-window counter to reserve `amount` on, refused when it would pass `limit`."""

    key: str
    limit: int
    amount: int
    ttl: int
    label: str  # e.g. "rpm" — named in the 429 message
    window_end: float


def window_counters(
    user_id: int, router_id: int, limits: dict[str, int | None], requests: int, tokens: int, now: float
) -> list[Counter]:
    """The counters a request touches: rpm/rpd count requests, tpm/tpd count tokens."""
    counters = []
    for kind, value in limits.items():
        if value is None:
            continue
        span = 60 if kind.endswith("m") else 86400
        window = math.floor(now / span)
        amount = requests if kind.startswith("r") else tokens
        counters.append(
            Counter(
                key=f"lg:rl:{user_id}:{router_id}:{kind}:{window}",
                limit=value,
                amount=amount,
                ttl=span + 60,
                label=kind,
                window_end=(window + 1) * span,
            )
        )
    return counters


class Limiter(Protocol):
    async def reserve(self, counters: list[Counter]) -> Counter | None:
        """Reserve on every counter, or on none: return the first counter that would overflow."""

    async def adjust(self, counter: Counter, delta: int) -> None:
        """Correct a reservation once the real amount is known."""

    async def budget_reserve(self, user_id: int, balance: float, amount: float) -> bool:
        """Hold `amount` of the user's budget (initialised from `balance` if unknown)."""

    async def budget_settle(self, user_id: int, reserved: float, spent: float) -> None: ...

    async def budget_forget(self, user_id: int | None = None) -> None:
        """Drop the cached balance(s): the next reservation reloads from the database."""

    async def close(self) -> None: ...


class MemoryLimiter:
    """Single-process backend. All methods run without awaiting, so each is atomic on the event loop."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._balances: dict[int, float] = {}
        self._reserved: dict[int, float] = {}

    def _get(self, key: str, now: float) -> int:
        entry = self._counts.get(key)
        if entry is None or entry[1] < now:
            return 0
        return entry[0]

    async def reserve(self, counters: list[Counter]) -> Counter | None:
        now = time.time()
        for counter in counters:
            if self._get(counter.key, now) + counter.amount > counter.limit:
                return counter
        for counter in counters:
            self._counts[counter.key] = (self._get(counter.key, now) + counter.amount, now + counter.ttl)
        if len(self._counts) > 100_000:
            self._counts = {k: v for k, v in self._counts.items() if v[1] >= now}
        return None

    async def adjust(self, counter: Counter, delta: int) -> None:
        now = time.time()
        self._counts[counter.key] = (self._get(counter.key, now) + delta, now + counter.ttl)

    async def budget_reserve(self, user_id: int, balance: float, amount: float) -> bool:
        current = self._balances.setdefault(user_id, balance)
        reserved = self._reserved.get(user_id, 0.0)
        if current - reserved < amount or current <= 0:
            return False
        self._reserved[user_id] = reserved + amount
        return True

    async def budget_settle(self, user_id: int, reserved: float, spent: float) -> None:
        self._reserved[user_id] = max(0.0, self._reserved.get(user_id, 0.0) - reserved)
        if user_id in self._balances:
            self._balances[user_id] -= spent

    async def budget_forget(self, user_id: int | None = None) -> None:
        if user_id is None:
            self._balances.clear()
        else:
            self._balances.pop(user_id, None)

    async def close(self) -> None:
        return None


_RESERVE = """
for i = 1, #KEYS do
  local limit = tonumber(ARGV[3 * i - 2])
  local amount = tonumber(ARGV[3 * i - 1])
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  if current + amount > limit then return i end
end
for i = 1, #KEYS do
  redis.call('INCRBY', KEYS[i], ARGV[3 * i - 1])
  redis.call('EXPIRE', KEYS[i], ARGV[3 * i])
end
return 0
"""

_BUDGET_RESERVE = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local balance = tonumber(redis.call('GET', KEYS[1]))
local reserved = tonumber(redis.call('GET', KEYS[2]) or '0')
local amount = tonumber(ARGV[2])
if balance <= 0 or balance - reserved < amount then return 0 end
redis.call('INCRBYFLOAT', KEYS[2], ARGV[2])
return 1
"""

_BUDGET_SETTLE = """
redis.call('INCRBYFLOAT', KEYS[2], -tonumber(ARGV[1]))
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBYFLOAT', KEYS[1], -tonumber(ARGV[2])) end
return 1
"""


def _unavailable_on_redis_errors(method):
    """Every Redis failure becomes LimiterUnavailable (503), the one error callers handle."""
    import functools

    from redis.exceptions import RedisError

    @functools.wraps(method)
    async def guarded(self, *args, **kwargs):
        try:
            return await method(self, *args, **kwargs)
        except RedisError as exc:
            raise LimiterUnavailable() from exc

    return guarded


class RedisLimiter:
    """Shared by all replicas: the counts are exact across processes."""

    def __init__(self, url: str):
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, decode_responses=True, socket_connect_timeout=2, socket_timeout=2)
        self._reserve = self._redis.register_script(_RESERVE)
        self._budget_reserve = self._redis.register_script(_BUDGET_RESERVE)
        self._budget_settle = self._redis.register_script(_BUDGET_SETTLE)

    @_unavailable_on_redis_errors
    async def reserve(self, counters: list[Counter]) -> Counter | None:
        if not counters:
            return None
        args: list[int] = []
        for counter in counters:
            args += [counter.limit, counter.amount, counter.ttl]
        failed = int(await self._reserve(keys=[c.key for c in counters], args=args))
        return counters[failed - 1] if failed else None

    @_unavailable_on_redis_errors
    async def adjust(self, counter: Counter, delta: int) -> None:
        if delta:
            async with self._redis.pipeline(transaction=True) as pipe:
                await pipe.incrby(counter.key, delta).expire(counter.key, counter.ttl).execute()

    @_unavailable_on_redis_errors
    async def budget_reserve(self, user_id: int, balance: float, amount: float) -> bool:
        keys = [f"lg:budget:{user_id}", f"lg:budget_reserved:{user_id}"]
        return bool(int(await self._budget_reserve(keys=keys, args=[repr(balance), repr(amount)])))

    @_unavailable_on_redis_errors
    async def budget_settle(self, user_id: int, reserved: float, spent: float) -> None:
        keys = [f"lg:budget:{user_id}", f"lg:budget_reserved:{user_id}"]
        await self._budget_settle(keys=keys, args=[repr(reserved), repr(spent)])

    @_unavailable_on_redis_errors
    async def budget_forget(self, user_id: int | None = None) -> None:
        if user_id is not None:
            await self._redis.delete(f"lg:budget:{user_id}")
            return
        async for key in self._redis.scan_iter("lg:budget:*"):
            await self._redis.delete(key)

    async def close(self) -> None:
        await self._redis.aclose()
