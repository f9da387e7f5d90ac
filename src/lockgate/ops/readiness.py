"""Readiness: can this replica serve? The database and Redis (when configured) must answer; models
without a healthy provider make it `degraded`, not unready (another model may still be served, and
restarting the replica would not bring an upstream back).

Losing or regaining the database or Redis writes one log line (logger `lockgate.dependencies`), found by
the readiness probes and by a background check every `health_check_seconds`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sqlalchemy import text

from lockgate.kit.db import Database

log = logging.getLogger("lockgate.dependencies")
CHECK_TIMEOUT_SECONDS = 2.0


class ReadinessStatus(StrEnum):
    READY = "ready"
    DEGRADED = "degraded"  # ready, but some model has no healthy provider
    UNREADY = "unready"  # the database or Redis cannot be reached


class ModelHealth(Protocol):
    """A model and how many of its providers can take requests now (the gateway's ModelHealth; ops
    stays below the domain packages, which report to its metrics and access log)."""

    @property
    def model(self) -> str: ...
    @property
    def providers(self) -> int: ...
    @property
    def healthy(self) -> int: ...


@dataclass(frozen=True, slots=True)
class DependencyCheck:
    """`error`: a short reason for callers (full detail goes to the log)."""

    name: str
    up: bool
    latency_ms: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Readiness:
    status: ReadinessStatus
    dependencies: list[DependencyCheck]
    models: Sequence[ModelHealth]

    @property
    def ready(self) -> bool:
        return self.status != ReadinessStatus.UNREADY


class ReadinessService:
    def __init__(
        self,
        db: Database,
        models: Callable[[], Sequence[ModelHealth]],
        redis_ping: Callable[[], Awaitable[object]] | None = None,
    ):
        self._checks: dict[str, Callable[[], Awaitable[object]]] = {"database": self._ping_database}
        if redis_ping is not None:
            self._checks["redis"] = redis_ping
        self._db = db
        self._models = models
        self._down_since: dict[str, float] = {}

    async def _ping_database(self) -> None:
        async with self._db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def check(self) -> Readiness:
        dependencies = await asyncio.gather(*(self._check(n, ping) for n, ping in self._checks.items()))
        models = self._models()
        if not all(d.up for d in dependencies):
            status = ReadinessStatus.UNREADY
        elif any(m.healthy == 0 for m in models):
            status = ReadinessStatus.DEGRADED
        else:
            status = ReadinessStatus.READY
        return Readiness(status, list(dependencies), models)

    async def _check(self, name: str, ping: Callable[[], Awaitable[object]]) -> DependencyCheck:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(ping(), CHECK_TIMEOUT_SECONDS)
        except Exception as exc:  # any failure means "not usable now": never let the probe itself fail
            elapsed = (time.perf_counter() - started) * 1000
            reason = "timed out" if isinstance(exc, TimeoutError) else "unreachable"
            self._down(name, exc)
            return DependencyCheck(name, False, round(elapsed, 3), reason)
        self._up(name)
        return DependencyCheck(name, True, round((time.perf_counter() - started) * 1000, 3))

    def _down(self, name: str, exc: BaseException) -> None:
        if name in self._down_since:
            return
        self._down_since[name] = time.monotonic()
        detail = f"{type(exc).__name__}: {exc}"[:500] if str(exc) else type(exc).__name__
        log.error(f"{name} unreachable", extra={"dependency": name, "error": detail})

    def _up(self, name: str) -> None:
        since = self._down_since.pop(name, None)
        if since is not None:
            log.info(
                f"{name} reachable again",
                extra={"dependency": name, "down_seconds": round(time.monotonic() - since, 3)},
            )

    async def watch(self, every_seconds: float) -> None:
        """Check in the background so that a loss is logged even when no probe asks."""
        while True:
            await self.check()
            await asyncio.sleep(every_seconds)
