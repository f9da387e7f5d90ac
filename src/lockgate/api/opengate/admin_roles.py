"""/v1/admin/roles."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from lockgate.api.deps import DbId, State, page_params, require
from lockgate.api.opengate.schemas import CreatedId, ListOf, RoleCreate, RoleOut, RoleUpdate
from lockgate.identity.schemas import Permission
from lockgate.kit.pagination import Page

router = APIRouter(
    prefix="/v1/admin/roles", tags=["admin"], dependencies=[Depends(require(Permission.ADMIN))]
)
Paging = Annotated[Page, Depends(page_params(("id", "name", "created", "updated"), "roles"))]


@router.post("", status_code=201, response_model=CreatedId)
async def create_role(body: RoleCreate, state: State) -> CreatedId:
    role_id = await state.identity.create_role(
        name=body.name,
        permissions=[p.value for p in body.permissions or []],
        limits=[limit.model_dump(mode="json") for limit in body.limits or []],
    )
    return CreatedId(id=role_id)


@router.get("", response_model=ListOf[RoleOut])
async def list_roles(state: State, page: Paging) -> ListOf[RoleOut]:
    return ListOf[RoleOut](data=[RoleOut(**asdict(r)) for r in await state.identity.list_roles(page)])


@router.get("/{role}", response_model=RoleOut)
async def get_role(role: DbId, state: State) -> RoleOut:
    return RoleOut(**asdict(await state.identity.get_role(role)))


@router.patch("/{role}", status_code=204)
async def update_role(role: DbId, body: RoleUpdate, state: State) -> Response:
    await state.identity.update_role(role, body.model_dump(mode="json", exclude_unset=True))
    return Response(status_code=204)


@router.delete("/{role}", status_code=204)
async def delete_role(role: DbId, state: State) -> Response:
    await state.identity.delete_role(role)
    return Response(status_code=204)
