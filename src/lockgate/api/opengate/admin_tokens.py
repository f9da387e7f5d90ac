"""/v1/admin/tokens: API keys of any user, managed by an admin."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from lockgate.api.deps import DbId, State, page_params, require
from lockgate.api.opengate.schemas import CreatedToken, ListOf, TokenCreate, TokenOut, TokenUpdate
from lockgate.identity.schemas import Permission, Principal
from lockgate.kit.pagination import Page

router = APIRouter(prefix="/v1/admin/tokens", tags=["admin"])
Admin = Annotated[Principal, Depends(require(Permission.ADMIN))]
Paging = Annotated[Page, Depends(page_params(("id", "name", "created"), "tokens"))]
UserFilter = Annotated[
    int | None, Query(ge=0, le=2**31 - 1, description="Restrict to the tokens of this user ID.")
]


@router.post("", status_code=201, response_model=CreatedToken)
async def create_token(body: TokenCreate, state: State, admin: Admin) -> CreatedToken:
    user = body.user or admin.user_id
    # Keys for another user are the admin's call (as in OpenGateLLM): only one's own are bounded.
    expires = state.access.own_key_expiry(body.expires) if user == admin.user_id else body.expires
    created = await state.access.create_key(user, body.name, expires)
    return CreatedToken(id=created.id, token=created.key)


@router.get("", response_model=ListOf[TokenOut])
async def list_tokens(state: State, _: Admin, page: Paging, user: UserFilter = None) -> ListOf[TokenOut]:
    rows = await state.access.list_keys(page, user_id=user)
    return ListOf[TokenOut](data=[TokenOut(**asdict(r)) for r in rows])


@router.get("/{token}", response_model=TokenOut)
async def get_token(token: DbId, state: State, _: Admin, user: UserFilter = None) -> TokenOut:
    return TokenOut(**asdict(await state.access.get_key(token, user_id=user)))


@router.patch("/{token}", status_code=204)
async def update_token(token: DbId, body: TokenUpdate, state: State, _: Admin) -> Response:
    await state.access.update_key(token, body.model_dump(exclude_unset=True))
    return Response(status_code=204)


@router.delete("/{token}", status_code=204)
async def delete_token(token: DbId, state: State, _: Admin, user: UserFilter = None) -> Response:
    await state.access.delete_key(token, user_id=user)
    return Response(status_code=204)
