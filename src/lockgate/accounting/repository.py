"""All SQL of accounting's reads (writes are batched by the recorder)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.accounting.models import Usage

S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True, slots=True)
class UsageFilter:
    start: int
    end: int
    user_id: int | None = None
    router_id: int | None = None
    endpoint: str | None = None


def _where(stmt: S, f: UsageFilter) -> S:
    stmt = stmt.where(Usage.created >= f.start, Usage.created <= f.end)
    if f.user_id is not None:
        stmt = stmt.where(Usage.user_id == f.user_id)
    if f.router_id is not None:
        stmt = stmt.where(Usage.router_id == f.router_id)
    if f.endpoint is not None:
        stmt = stmt.where(Usage.endpoint == f.endpoint)
    return stmt


async def list_usage(
    session: AsyncSession, f: UsageFilter, offset: int, limit: int, newest_first: bool = True
) -> list[Usage]:
    order = (Usage.created.desc(), Usage.id.desc()) if newest_first else (Usage.created.asc(), Usage.id.asc())
    stmt = _where(select(Usage), f).order_by(*order).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all())


async def totals(session: AsyncSession, f: UsageFilter) -> dict[str, float]:
    stmt = _where(
        select(
            func.count(Usage.id),
            func.coalesce(func.sum(Usage.prompt_tokens), 0),
            func.coalesce(func.sum(Usage.completion_tokens), 0),
            func.coalesce(func.sum(Usage.total_tokens), 0),
            func.coalesce(func.sum(Usage.cost), 0.0),
            func.coalesce(func.sum(Usage.kwh_min), 0.0),
            func.coalesce(func.sum(Usage.kwh_max), 0.0),
            func.coalesce(func.sum(Usage.kgco2eq_min), 0.0),
            func.coalesce(func.sum(Usage.kgco2eq_max), 0.0),
        ),
        f,
    )
    row = (await session.execute(stmt)).one()
    keys = (
        "requests",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cost",
        "kwh_min",
        "kwh_max",
        "kgco2eq_min",
        "kgco2eq_max",
    )
    return dict(zip(keys, row, strict=True))


async def series(session: AsyncSession, f: UsageFilter, bucket_seconds: int) -> list[tuple[Any, ...]]:
    """(bucket start, model, requests, total tokens, cost, kgCO2eq max) per time bucket and model, oldest
    first. The bucket is the Unix time rounded down to a multiple of `bucket_seconds`."""
    bucket = (Usage.created - Usage.created % bucket_seconds).label("bucket")
    stmt = _where(
        select(
            bucket,
            Usage.model,
            func.count(Usage.id),
            func.coalesce(func.sum(Usage.total_tokens), 0),
            func.coalesce(func.sum(Usage.cost), 0.0),
            func.coalesce(func.sum(Usage.kgco2eq_max), 0.0),
        ),
        f,
    ).group_by(bucket, Usage.model)
    return [tuple(row) for row in await session.execute(stmt.order_by(bucket, Usage.model))]


@dataclass(frozen=True, slots=True)
class ModelTotals:
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: float


async def totals_by_model(session: AsyncSession, f: UsageFilter) -> list[ModelTotals]:
    """Per model, most used first (rows with no model, such as refused requests, left out)."""
    stmt = _where(
        select(
            Usage.model,
            func.count(Usage.id),
            func.coalesce(func.sum(Usage.prompt_tokens), 0),
            func.coalesce(func.sum(Usage.completion_tokens), 0),
            func.coalesce(func.sum(Usage.cost), 0.0),
        ).where(Usage.model.is_not(None)),
        f,
    ).group_by(Usage.model)
    rows = (await session.execute(stmt)).all()
    found = [ModelTotals(str(m), int(n), int(p), int(c), float(cost)) for m, n, p, c, cost in rows]
    return sorted(found, key=lambda t: (-t.requests, t.model))
