"""GET /v1/me/usage (own history, as OpenGateLLM) and GET /v1/admin/usage (everyone's, with totals)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from lockgate.accounting.history import make_filter
from lockgate.api.deps import Caller, State, require
from lockgate.identity.schemas import Permission
from lockgate.kit.pagination import MAX_OFFSET

router = APIRouter(tags=["usage"])
Ts = Annotated[int | None, Query(ge=0, le=2**53, description="Unix timestamp.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=100)]
Endpoint = Annotated[str | None, Query(max_length=128, description="e.g. /v1/chat/completions")]


@router.get("/v1/me/usage")
async def my_usage(
    caller: Caller,
    state: State,
    offset: Offset = 0,
    limit: Limit = 10,
    start_time: Ts = None,
    end_time: Ts = None,
    endpoint: Endpoint = None,
) -> dict[str, Any]:
    f = make_filter(start_time, end_time, user_id=caller.user_id, endpoint=endpoint)
    rows = await state.usage_history.rows(f, offset, limit)
    return {
        "object": "list",
        "data": [{"object": "me.usage", **{k: v for k, v in r.items() if k != "user"}} for r in rows],
    }


@router.get("/v1/admin/usage", dependencies=[Depends(require(Permission.ADMIN))])
async def all_usage(
    state: State,
    offset: Offset = 0,
    limit: Limit = 10,
    start_time: Ts = None,
    end_time: Ts = None,
    endpoint: Endpoint = None,
    user: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    router: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
) -> dict[str, Any]:
    f = make_filter(start_time, end_time, user_id=user, router_id=router, endpoint=endpoint)
    rows = await state.usage_history.rows(f, offset, limit)
    return {
        "object": "list",
        "data": [{"object": "usage", **r} for r in rows],
        "totals": await state.usage_history.totals(f),
    }
