"""/v1/me/info and /v1/me/keys: the caller's own profile and API keys."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from lockgate.api.deps import Caller, DbId, ExpiredCaller, State, page_params
from lockgate.api.opengate.schemas import (
    CreatedToken,
    KeyCreate,
    KeyOut,
    LimitBody,
    ListOf,
    MeUpdate,
    UserInfo,
)
from lockgate.kit.pagination import Page

router = APIRouter(prefix="/v1/me", tags=["me"])
Paging = Annotated[Page, Depends(page_params(("id", "name", "created"), "keys"))]


@router.get("/info", response_model=UserInfo)
async def get_info(caller: ExpiredCaller, state: State) -> UserInfo:
    user = await state.identity.get_user(caller.user_id)
    return UserInfo(
        id=user.id,
        email=user.email,
        name=user.name,
        organization=user.organization,
        budget=user.budget,
        permissions=sorted(caller.permissions),
        limits=[LimitBody(**asdict(limit)) for limit in caller.limits],
        expires=user.expires,
        priority=user.priority,
        created=user.created,
        updated=user.updated,
    )


@router.patch("/info", status_code=204)
async def update_info(body: MeUpdate, caller: Caller, state: State) -> Response:
    await state.identity.update_me(caller, body.model_dump(exclude_unset=True))
    return Response(status_code=204)


@router.post("/keys", status_code=201, response_model=CreatedToken)
async def create_key(body: KeyCreate, caller: Caller, state: State) -> CreatedToken:
    if body.collection_id is not None:  # you can only scope a key to a collection you can read
        await state.rag.get_collection(caller, body.collection_id)
    expires = state.access.own_key_expiry(body.expires)
    created = await state.access.create_key(
        caller.user_id, body.name, expires, collection_id=body.collection_id
    )
    return CreatedToken(id=created.id, token=created.key)


@router.get("/keys", response_model=ListOf[KeyOut])
async def list_keys(caller: Caller, state: State, page: Paging) -> ListOf[KeyOut]:
    rows = await state.access.list_keys(page, user_id=caller.user_id)
    return ListOf[KeyOut](
        data=[KeyOut(id=r.id, name=r.name, token=r.token, expires=r.expires, created=r.created) for r in rows]
    )


@router.get("/keys/{key}", response_model=KeyOut)
async def get_key(key: DbId, caller: Caller, state: State) -> KeyOut:
    row = await state.access.get_key(key, user_id=caller.user_id)
    return KeyOut(id=row.id, name=row.name, token=row.token, expires=row.expires, created=row.created)


@router.delete("/keys/{key}", status_code=204)
async def delete_key(key: DbId, caller: Caller, state: State) -> Response:
    await state.access.delete_key(key, user_id=caller.user_id)
    return Response(status_code=204)
