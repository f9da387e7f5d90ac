"""Admin: every user's API keys — create one for a user (its secret shown once, on that page), revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from lockgate.api.deps import DbId, State
from lockgate.kit.pagination import Page
from lockgate.state import AppState
from lockgate.web.render import ConsoleRoute, page, redirect
from lockgate.web.session import Admin

router = APIRouter(route_class=ConsoleRoute)
NEWEST = Page(offset=0, limit=100, order_by="created", order_direction="desc")
USERS = Page(offset=0, limit=100)


async def _page(request: Request, state: AppState, created: str | None = None, owner: str = "") -> Response:
    users = await state.identity.list_users(USERS)
    return page(
        request,
        "admin_keys.html",
        keys=await state.access.list_keys(NEWEST),
        users=users,
        emails={u.id: u.email for u in users},
        created=created,
        owner=owner,
        status_code=201 if created else 200,
    )


@router.get("/ui/admin/keys")
async def keys(request: Request, _: Admin, state: State) -> Response:
    return await _page(request, state)


@router.post("/ui/admin/keys")
async def create_key(
    request: Request,
    _: Admin,
    state: State,
    user: Annotated[int, Form(ge=1, le=2**31 - 1)],
    name: Annotated[str, Form(min_length=1, max_length=255)],
) -> Response:
    created = await state.access.create_key(user, name)
    owner = (await state.identity.get_user(user)).email
    return await _page(request, state, created=created.key, owner=owner)


@router.post("/ui/admin/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: DbId, _: Admin, state: State) -> Response:
    await state.access.delete_key(key_id)
    return redirect(request, "/ui/admin/keys")
