"""Admin: roles (permissions and per-model limits) and organizations. Administrators only."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from lockgate.api.deps import DbId, State
from lockgate.identity.schemas import LimitType, Permission
from lockgate.kit.pagination import Page
from lockgate.web.render import ConsoleRoute, page, redirect
from lockgate.web.session import Admin

router = APIRouter(route_class=ConsoleRoute)
EVERY = Page(offset=0, limit=100)


@router.get("/ui/admin/roles")
async def roles(request: Request, _: Admin, state: State) -> Response:
    routers = {r.id: r.name for r in state.gateway.registry.routers()}
    return page(
        request,
        "admin_roles.html",
        roles=await state.identity.list_roles(EVERY),
        routers=routers,
        permissions=[p.value for p in Permission],
        limit_types=[t.value for t in LimitType],
    )


@router.post("/ui/admin/roles")
async def create_role(
    request: Request,
    _: Admin,
    state: State,
    name: Annotated[str, Form(min_length=1, max_length=255)],
    permissions: Annotated[list[str] | None, Form()] = None,
) -> Response:
    await state.identity.create_role(name, permissions or [], [])
    return redirect(request, "/ui/admin/roles")


@router.post("/ui/admin/roles/{role_id}/limits")
async def set_limit(
    request: Request,
    role_id: DbId,
    _: Admin,
    state: State,
    model: Annotated[int, Form(ge=1, le=2**31 - 1)],
    type: Annotated[LimitType, Form()],
    value: Annotated[int | None, Form(ge=0, le=2**53)] = None,
) -> Response:
    """Set (or, with no value, remove) one limit of the role; the others stay."""
    role = await state.identity.get_role(role_id)
    kept = [asdict(lim) for lim in role.limits if (lim.router, lim.type) != (model, type.value)]
    if value is not None:
        kept.append({"router": model, "type": type.value, "value": value})
    await state.identity.update_role(role_id, {"limits": kept})
    return redirect(request, "/ui/admin/roles")


@router.post("/ui/admin/roles/{role_id}/delete")
async def delete_role(request: Request, role_id: DbId, _: Admin, state: State) -> Response:
    await state.identity.delete_role(role_id)
    return redirect(request, "/ui/admin/roles")


@router.get("/ui/admin/organizations")
async def organizations(request: Request, _: Admin, state: State) -> Response:
    return page(
        request, "admin_organizations.html", organizations=await state.identity.list_organizations(EVERY)
    )


@router.post("/ui/admin/organizations")
async def create_organization(
    request: Request, _: Admin, state: State, name: Annotated[str, Form(min_length=1, max_length=255)]
) -> Response:
    await state.identity.create_organization(name)
    return redirect(request, "/ui/admin/organizations")


@router.post("/ui/admin/organizations/{organization_id}/delete")
async def delete_organization(request: Request, organization_id: DbId, _: Admin, state: State) -> Response:
    await state.identity.delete_organization(organization_id)
    return redirect(request, "/ui/admin/organizations")
