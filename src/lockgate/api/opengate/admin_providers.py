"""/v1/admin/providers: the upstream deployments behind each router."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from lockgate.api.deps import DbId, State, page_params, require
from lockgate.api.opengate.gateway_schemas import ProviderCreate, ProviderOut, ProviderUpdate
from lockgate.api.opengate.schemas import ListOf
from lockgate.identity.schemas import Permission, Principal
from lockgate.kit.pagination import Page

router = APIRouter(prefix="/v1/admin/providers", tags=["admin"])
Provider = Annotated[Principal, Depends(require(Permission.PROVIDE_MODELS))]
Paging = Annotated[Page, Depends(page_params(("id", "model_name", "created"), "providers"))]


@router.post("", status_code=201, response_model=ProviderOut)
async def create_provider(body: ProviderCreate, state: State, caller: Provider) -> ProviderOut:
    view = await state.gateway_admin.create_provider(caller.user_id, body.model_dump(mode="json"))
    return ProviderOut(**asdict(view))


@router.get("", response_model=ListOf[ProviderOut])
async def list_providers(
    state: State,
    _: Provider,
    page: Paging,
    router: Annotated[int | None, Query(ge=0, le=2**31 - 1, description="Filter by router ID.")] = None,
) -> ListOf[ProviderOut]:
    views = await state.gateway_admin.list_providers(page, router)
    return ListOf[ProviderOut](data=[ProviderOut(**asdict(v)) for v in views])


@router.get("/{provider}", response_model=ProviderOut)
async def get_provider(provider: DbId, state: State, _: Provider) -> ProviderOut:
    return ProviderOut(**asdict(await state.gateway_admin.get_provider(provider)))


@router.patch("/{provider}", response_model=ProviderOut)
async def update_provider(provider: DbId, body: ProviderUpdate, state: State, _: Provider) -> ProviderOut:
    await state.gateway_admin.update_provider(provider, body.model_dump(mode="json", exclude_unset=True))
    return ProviderOut(**asdict(await state.gateway_admin.get_provider(provider)))


@router.delete("/{provider_id}", status_code=204)
async def delete_provider(provider_id: DbId, state: State, _: Provider) -> Response:
    await state.gateway_admin.delete_provider(provider_id)
    return Response(status_code=204)
