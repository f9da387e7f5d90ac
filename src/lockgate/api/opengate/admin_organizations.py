"""/v1/admin/organizations."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from lockgate.api.deps import DbId, State, page_params, require
from lockgate.api.opengate.schemas import (
    CreatedId,
    ListOf,
    OrganizationCreate,
    OrganizationOut,
    OrganizationUpdate,
)
from lockgate.identity.schemas import Permission
from lockgate.kit.pagination import Page

router = APIRouter(
    prefix="/v1/admin/organizations",
    tags=["admin"],
    dependencies=[Depends(require(Permission.ADMIN))],
)
Paging = Annotated[Page, Depends(page_params(("id", "name", "created", "updated"), "organizations"))]


@router.post("", status_code=201, response_model=CreatedId)
async def create_organization(body: OrganizationCreate, state: State) -> CreatedId:
    return CreatedId(id=await state.identity.create_organization(body.name))


@router.get("", response_model=ListOf[OrganizationOut])
async def list_organizations(state: State, page: Paging) -> ListOf[OrganizationOut]:
    rows = await state.identity.list_organizations(page)
    return ListOf[OrganizationOut](data=[OrganizationOut(**asdict(r)) for r in rows])


@router.get("/{organization}", response_model=OrganizationOut)
async def get_organization(organization: DbId, state: State) -> OrganizationOut:
    return OrganizationOut(**asdict(await state.identity.get_organization(organization)))


@router.patch("/{organization}", status_code=204)
async def update_organization(organization: DbId, body: OrganizationUpdate, state: State) -> Response:
    await state.identity.update_organization(organization, body.model_dump(exclude_unset=True))
    return Response(status_code=204)


@router.delete("/{organization}", status_code=204)
async def delete_organization(organization: DbId, state: State) -> Response:
    await state.identity.delete_organization(organization)
    return Response(status_code=204)
