"""Provider health as an operator sees it: healthy, cooling down (too many failures in a row) or
unreachable (its probe fails), with the last error and since when. Every failure and every change of
status writes one structured log line (logger `lockgate.providers`)."""

from __future__ import annotations

import asyncio
import logging
import time

from lockgate.gateway.qos import ProviderStats
from lockgate.gateway.runtime import ProviderRuntime, RouterRuntime
from lockgate.gateway.schemas import HealthStatus, ModelHealth, ProviderHealth

log = logging.getLogger("lockgate.providers")


def status_of(stats: ProviderStats, now: float | None = None) -> HealthStatus:
    if not stats.healthy:
        return HealthStatus.UNREACHABLE
    if stats.cooling_down(time.monotonic() if now is None else now):
        return HealthStatus.COOLING_DOWN
    return HealthStatus.HEALTHY


def health_of(stats: ProviderStats) -> ProviderHealth:
    now = time.monotonic()
    status = status_of(stats, now)
    cooldown_until = None
    if status == HealthStatus.COOLING_DOWN:
        cooldown_until = int(time.time() + (stats.cooldown_until - now) + 0.999)
    return ProviderHealth(
        status=status,
        since=int(stats.status_since),
        last_error=stats.last_error,
        last_error_at=int(stats.last_error_at) if stats.last_error_at is not None else None,
        cooldown_until=cooldown_until,
    )


def models_health(routers: list[RouterRuntime]) -> list[ModelHealth]:
    now = time.monotonic()
    return [
        ModelHealth(
            router.name,
            len(router.providers),
            sum(status_of(p.stats, now) == HealthStatus.HEALTHY for p in router.providers),
        )
        for router in routers
    ]


def _fields(provider: ProviderRuntime, model: str) -> dict[str, object]:
    return {"provider": provider.name, "provider_id": provider.id, "model": model}


def failed(
    provider: ProviderRuntime, model: str, error: str, status: int, threshold: int, cooldown_seconds: float
) -> None:
    """A call to `provider` failed through its own fault (not the request's): count it, log it, and
    start a cool-down after `threshold` failures in a row."""
    stats = provider.stats
    cooling = stats.record_failure(threshold, cooldown_seconds, error)
    log.warning(
        "provider failure",
        extra={
            **_fields(provider, model),
            "status": status,
            "error": error,
            "consecutive_failures": stats.consecutive_failures if not cooling else threshold,
        },
    )
    if not cooling:
        return
    log.warning("provider cool-down started", extra={**_fields(provider, model), "seconds": cooldown_seconds})
    # the end is logged when it comes, not when the next request happens to notice
    asyncio.get_running_loop().call_later(cooldown_seconds + 0.01, _cooldown_over, provider, model)


def _cooldown_over(provider: ProviderRuntime, model: str) -> None:
    stats = provider.stats
    if stats.cooling_down(time.monotonic()):  # extended by a later failure: its own timer will tell
        return
    stats.status_since = time.time()
    log.info("provider cool-down ended", extra=_fields(provider, model))


def unreachable(provider: ProviderRuntime, model: str, error: str) -> None:
    """Its probe failed: no request goes to it until a probe succeeds."""
    stats = provider.stats
    now = time.time()
    if stats.healthy:
        stats.status_since = now
    stats.healthy = False
    stats.last_error, stats.last_error_at = error, now
    log.warning("provider unreachable", extra={**_fields(provider, model), "error": error})


def reachable(provider: ProviderRuntime, model: str) -> None:
    stats = provider.stats
    if not stats.healthy:
        stats.healthy = True
        stats.status_since = time.time()
        log.info("provider reachable again", extra=_fields(provider, model))
