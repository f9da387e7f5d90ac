"""Usage: the caller's own (admins: everyone's, or one user's) over time — charts of requests, tokens,
cost and carbon by model, the requests table, and a CSV export of the same rows."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from lockgate.accounting.history import make_filter
from lockgate.accounting.repository import UsageFilter
from lockgate.api.deps import State
from lockgate.identity.schemas import Permission, Principal
from lockgate.kit.clock import now_ts
from lockgate.kit.pagination import Page
from lockgate.state import AppState
from lockgate.web.charts import charts
from lockgate.web.render import ConsoleRoute, page
from lockgate.web.session import Viewer

router = APIRouter(route_class=ConsoleRoute)
Days = Annotated[int, Query(ge=1, le=365)]
UserId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
TABLE_ROWS = 50
CSV_PAGE, CSV_MAX_ROWS = 100, 100_000
USERS = Page(offset=0, limit=100)  # names shown for the first 100 users, ids beyond


def _filter(principal: Principal, days: int, user: int | None) -> tuple[UsageFilter, bool]:
    """Everyone's usage (or one user's) for admins; always only one's own for everybody else."""
    everyone = principal.has(Permission.ADMIN)
    who = user if everyone else principal.user_id  # an admin's None: everyone
    end = now_ts()
    return make_filter(end - days * 86400, end, user_id=who), everyone


async def _context(principal: Principal, state: AppState, days: int, user: int | None) -> dict[str, Any]:
    f, everyone = _filter(principal, days, user)
    bucket = 3600 if days <= 2 else 86400
    points = await state.usage_history.series(f, bucket)
    totals = await state.usage_history.totals(f)
    emails = {u.id: u.email for u in await state.identity.list_users(USERS)} if everyone else {}
    return {
        "emails": emails,
        "charts": charts(points, f.start, f.end, bucket),
        "totals": totals,
        "rows": await state.usage_history.rows(f, 0, TABLE_ROWS),
        "days": days,
        "user": user,
        "everyone": everyone,
    }


@router.get("/ui/usage")
async def usage(
    request: Request, principal: Viewer, state: State, days: Days = 7, user: UserId = None
) -> Response:
    template = "_usage_charts.html" if request.headers.get("hx-request") else "usage.html"
    return page(request, template, **await _context(principal, state, days, user))


@router.get("/ui/usage.csv")
async def usage_csv(principal: Viewer, state: State, days: Days = 30, user: UserId = None) -> Response:
    f, everyone = _filter(principal, days, user)
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["created", "user", "model", "endpoint", "status", "prompt_tokens", "completion_tokens"]
    writer.writerow([*header, "total_tokens", "cost", "kgco2eq_min", "kgco2eq_max", "latency_ms"])
    for offset in range(0, CSV_MAX_ROWS, CSV_PAGE):
        rows = await state.usage_history.rows(f, offset, CSV_PAGE)
        for r in rows:
            u = r["usage"]
            carbon = u["carbon"]["kgCO2eq"]
            writer.writerow(
                [
                    r["created"],
                    r["user"],
                    r["model"],
                    r["endpoint"],
                    r["status"],
                    u["prompt_tokens"],
                    u["completion_tokens"],
                    u["total_tokens"],
                    u["cost"],
                    carbon["min"],
                    carbon["max"],
                    u["metrics"]["latency"],
                ]
            )
        if len(rows) < CSV_PAGE:
            break
    name = "lockgate-usage.csv" if everyone and not user else f"lockgate-usage-{f.user_id}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
