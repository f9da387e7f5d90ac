"""Login throttling: failed password attempts counted per account and per client address in fixed
windows, on the same limiter as rate limits (in process, or Redis shared by every replica).

An attempt is counted before the password is checked (so a flood never reaches argon2 past the limit)
and given back when it succeeds: what accumulates is failures."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from lockgate.accounting.limits import Counter, Limiter
from lockgate.errors import AppError


class LoginThrottled(AppError):
    status_code = 429
    code = "too_many_login_attempts"


@dataclass(frozen=True, slots=True)
class LoginTicket:
    """The counters one attempt holds, given back when it succeeds."""

    counters: tuple[Counter, ...]


class LoginThrottle:
    def __init__(self, limiter: Limiter, per_account: int, per_address: int, window_seconds: int):
        self._limiter = limiter
        self._per_account = per_account
        self._per_address = per_address
        self._window = window_seconds

    def _counter(self, kind: str, who: str, limit: int, now: float) -> Counter:
        window = math.floor(now / self._window)
        digest = hashlib.sha256(who.encode()).hexdigest()[:32]  # no emails or addresses in Redis keys
        return Counter(
            key=f"lg:login:{kind}:{digest}:{window}",
            limit=limit,
            amount=1,
            ttl=self._window + 60,
            label=kind,
            window_end=(window + 1) * self._window,
        )

    async def admit(self, email: str, address: str | None) -> LoginTicket:
        """Count an attempt; 429 with Retry-After when the account or the address has failed too often."""
        now = time.time()
        counters = [self._counter("account", email.strip().lower(), self._per_account, now)]
        if address:
            counters.append(self._counter("address", address, self._per_address, now))
        refused = await self._limiter.admit(counters, None)
        if isinstance(refused, Counter):
            retry_after = max(1, int(refused.window_end - now + 0.999))
            raise LoginThrottled(
                f"Too many failed logins for this {refused.label}; retry in {retry_after}s.",
                headers={"Retry-After": str(retry_after)},
            )
        return LoginTicket(tuple(counters))

    async def succeeded(self, ticket: LoginTicket) -> None:
        await self._limiter.release([(counter, -1) for counter in ticket.counters], None)
