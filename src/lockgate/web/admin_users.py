"""Admin: users (list, create, delete). Administrators only; others get 403 from these URLs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from lockgate.api.deps import DbId, State
from lockgate.kit.pagination import Page
from lockgate.web.render import ConsoleRoute, page, redirect
from lockgate.web.session import Admin

router = APIRouter(route_class=ConsoleRoute)
EVERYONE = Page(offset=0, limit=100)


@router.get("/ui/admin/users")
async def users(request: Request, _: Admin, state: State) -> Response:
    roles = await state.identity.list_roles(EVERYONE)
    organizations = await state.identity.list_organizations(EVERYONE)
    return page(
        request,
        "admin_users.html",
        users=await state.identity.list_users(EVERYONE),
        roles=roles,
        role_names={r.id: r.name for r in roles},
        organizations=organizations,
        organization_names={o.id: o.name for o in organizations},
    )


@router.post("/ui/admin/users")
async def create_user(
    request: Request,
    _: Admin,
    state: State,
    email: Annotated[str, Form(min_length=3, max_length=320)],
    password: Annotated[str, Form(min_length=8, max_length=1024)],
    role: Annotated[int, Form(ge=1, le=2**31 - 1)],
    name: Annotated[str, Form(max_length=255)] = "",
    organization: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    budget: Annotated[float | None, Form(ge=0)] = None,
) -> Response:
    await state.identity.create_user(
        email, password, role, name=name or None, organization=organization, budget=budget
    )
    return redirect(request, "/ui/admin/users")


@router.post("/ui/admin/users/{user_id}/delete")
async def delete_user(request: Request, user_id: DbId, _: Admin, state: State) -> Response:
    await state.identity.delete_user(user_id)
    return redirect(request, "/ui/admin/users")
