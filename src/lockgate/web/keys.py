"""The caller's own API keys: create (the secret is shown once, on the page that created it), list
(truncated form only), revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from lockgate.api.deps import DbId, State
from lockgate.identity.schemas import Principal
from lockgate.kit.clock import now_ts
from lockgate.kit.pagination import Page
from lockgate.state import AppState
from lockgate.web.render import ConsoleRoute, page, redirect
from lockgate.web.session import Viewer

router = APIRouter(route_class=ConsoleRoute)
ALL_KEYS = Page(offset=0, limit=100, order_by="created", order_direction="desc")


async def _page(
    request: Request, principal: Principal, state: AppState, created: str | None = None
) -> Response:
    keys = await state.access.list_keys(ALL_KEYS, user_id=principal.user_id)
    return page(request, "keys.html", keys=keys, created=created, status_code=201 if created else 200)


@router.get("/ui/keys")
async def keys(request: Request, principal: Viewer, state: State) -> Response:
    return await _page(request, principal, state)


@router.post("/ui/keys")
async def create_key(
    request: Request,
    principal: Viewer,
    state: State,
    name: Annotated[str, Form(min_length=1, max_length=255)],
    days: Annotated[int | None, Form(ge=1, le=3650)] = None,
) -> Response:
    expires = now_ts() + days * 86400 if days else None
    created = await state.access.create_key(principal.user_id, name, expires)
    return await _page(request, principal, state, created=created.key)


@router.post("/ui/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: DbId, principal: Viewer, state: State) -> Response:
    await state.access.delete_key(key_id, user_id=principal.user_id)
    return redirect(request, "/ui/keys")
