"""Reading usage back: the caller's own history, and the admin view across users with totals."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from lockgate.accounting import repository
from lockgate.accounting.models import Usage
from lockgate.accounting.recorder import UsageRecorder
from lockgate.accounting.repository import ModelTotals, UsageFilter
from lockgate.kit.db import Database

DEFAULT_SPAN = 30 * 86400


@dataclass(frozen=True, slots=True)
class UsagePoint:
    """One model's usage in one time bucket (`start`: Unix seconds; `cost` in the routers' currency;
    `kgco2eq`: the upper estimate)."""

    start: int
    model: str
    requests: int
    tokens: int
    cost: float
    kgco2eq: float


def _whole_ms(value: float | None) -> int | None:
    """Milliseconds as the integer OpenGateLLM's usage schema declares (stored fractional)."""
    return None if value is None else round(value)


def usage_row(row: Usage) -> dict[str, Any]:
    return {
        "model": row.model,
        "key": row.key_name,
        "endpoint": row.endpoint,
        "method": row.method,
        "status": row.status,
        "usage": {
            "prompt_tokens": row.prompt_tokens,
            "completion_tokens": row.completion_tokens,
            "total_tokens": row.total_tokens,
            "cost": row.cost,
            "carbon": {
                "kWh": {"min": row.kwh_min, "max": row.kwh_max},
                "kgCO2eq": {"min": row.kgco2eq_min, "max": row.kgco2eq_max},
            },
            "metrics": {"latency": _whole_ms(row.latency_ms), "ttft": _whole_ms(row.ttft_ms)},
            "estimated": row.estimated,
        },
        "created": row.created,
    }


def make_filter(
    start: int | None,
    end: int | None,
    user_id: int | None = None,
    router_id: int | None = None,
    endpoint: str | None = None,
) -> UsageFilter:
    end = end if end is not None else int(time.time())
    start = start if start is not None else end - DEFAULT_SPAN
    return UsageFilter(start, end, user_id, router_id, endpoint)


class UsageHistory:
    def __init__(self, db: Database, recorder: UsageRecorder):
        self._db = db
        self._recorder = recorder

    async def rows(self, f: UsageFilter, offset: int, limit: int) -> list[dict[str, Any]]:
        # What was just answered must be readable now: write out the journal first (cheap when empty).
        await self._recorder.flush()
        async with self._db.transaction() as session:
            return [
                {**usage_row(r), "user": r.user_id}
                for r in await repository.list_usage(session, f, offset, limit)
            ]

    async def totals(self, f: UsageFilter) -> dict[str, Any]:
        await self._recorder.flush()
        async with self._db.transaction() as session:
            t = await repository.totals(session, f)
        return {
            "requests": t["requests"],
            "prompt_tokens": t["prompt_tokens"],
            "completion_tokens": t["completion_tokens"],
            "total_tokens": t["total_tokens"],
            "cost": t["cost"],
            "carbon": {
                "kWh": {"min": t["kwh_min"], "max": t["kwh_max"]},
                "kgCO2eq": {"min": t["kgco2eq_min"], "max": t["kgco2eq_max"]},
            },
        }

    async def series(self, f: UsageFilter, bucket_seconds: int) -> list[UsagePoint]:
        """Usage per `bucket_seconds` and model, oldest first (for charts)."""
        await self._recorder.flush()
        async with self._db.transaction() as session:
            rows = await repository.series(session, f, bucket_seconds)
        return [UsagePoint(int(b), m or "", int(n), int(t), float(c), float(k)) for b, m, n, t, c, k in rows]

    async def by_model(self, f: UsageFilter) -> list[ModelTotals]:
        """Requests, tokens and cost per model over the filter's span."""
        await self._recorder.flush()
        async with self._db.transaction() as session:
            return await repository.totals_by_model(session, f)
