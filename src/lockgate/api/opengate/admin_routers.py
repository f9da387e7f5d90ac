"""/v1/admin/routers: models as users see them (name, aliases, type, prices)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from lockgate.api.deps import DbId, State, require
from lockgate.api.opengate.gateway_schemas import RouterCreate, RouterList, RouterOut, RouterUpdate
from lockgate.identity.schemas import Permission, Principal
from lockgate.kit.pagination import MAX_OFFSET, Page

router = APIRouter(prefix="/v1/admin/routers", tags=["admin"])
Provider = Annotated[Principal, Depends(require(Permission.PROVIDE_MODELS))]


@router.post("", status_code=201, response_model=RouterOut)
async def create_router(body: RouterCreate, state: State, caller: Provider) -> RouterOut:
    view = await state.gateway_admin.create_router(caller.user_id, body.model_dump(mode="json"))
    return RouterOut(**asdict(view))


@router.get("", response_model=RouterList)
async def list_routers(
    state: State,
    _: Provider,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    sort_by: Annotated[Literal["id", "name", "created"], Query()] = "id",
    sort_order: Annotated[Literal["asc", "desc"], Query()] = "asc",
) -> RouterList:
    views, total = await state.gateway_admin.list_routers(Page(offset, limit, sort_by, sort_order))
    return RouterList(total=total, offset=offset, limit=limit, data=[RouterOut(**asdict(v)) for v in views])


@router.get("/{router_id}", response_model=RouterOut)
async def get_router(router_id: DbId, state: State, _: Provider) -> RouterOut:
    return RouterOut(**asdict(await state.gateway_admin.get_router(router_id)))


@router.patch("/{router_id}", response_model=RouterOut)
async def update_router(router_id: DbId, body: RouterUpdate, state: State, _: Provider) -> RouterOut:
    await state.gateway_admin.update_router(router_id, body.model_dump(mode="json", exclude_unset=True))
    return RouterOut(**asdict(await state.gateway_admin.get_router(router_id)))


@router.delete("/{router_id}", status_code=204)
async def delete_router(router_id: DbId, state: State, _: Provider) -> Response:
    await state.gateway_admin.delete_router(router_id)
    return Response(status_code=204)
