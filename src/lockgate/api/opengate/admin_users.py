"""/v1/admin/users."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from lockgate.api.deps import DbId, State, page_params, require
from lockgate.api.opengate.schemas import CreatedId, ListOf, UserCreate, UserOut, UserUpdate
from lockgate.identity.schemas import Permission
from lockgate.kit.pagination import Page

router = APIRouter(
    prefix="/v1/admin/users", tags=["admin"], dependencies=[Depends(require(Permission.ADMIN))]
)
Paging = Annotated[Page, Depends(page_params(("id", "name", "created", "updated"), "users"))]


@router.post("", status_code=201, response_model=CreatedId)
async def create_user(body: UserCreate, state: State) -> CreatedId:
    user_id = await state.identity.create_user(**body.model_dump())
    return CreatedId(id=user_id)


@router.get("", response_model=ListOf[UserOut])
async def list_users(
    state: State,
    page: Paging,
    role: Annotated[int | None, Query(ge=0, le=2**31 - 1, description="Filter by role ID.")] = None,
    organization: Annotated[
        int | None, Query(ge=0, le=2**31 - 1, description="Filter by organization ID.")
    ] = None,
    email: Annotated[str | None, Query(description="Filter by email.")] = None,
) -> ListOf[UserOut]:
    rows = await state.identity.list_users(page, role=role, organization=organization, email=email)
    return ListOf[UserOut](data=[UserOut(**asdict(r)) for r in rows])


@router.get("/{user}", response_model=UserOut)
async def get_user(user: DbId, state: State) -> UserOut:
    return UserOut(**asdict(await state.identity.get_user(user)))


@router.patch("/{user}", status_code=204)
async def update_user(user: DbId, body: UserUpdate, state: State) -> Response:
    # Admins set passwords without the current one; current_password is accepted and ignored here.
    await state.identity.update_user(user, body.model_dump(exclude_unset=True, exclude={"current_password"}))
    return Response(status_code=204)


@router.delete("/{user}", status_code=204)
async def delete_user(user: DbId, state: State) -> Response:
    await state.identity.delete_user(user)
    return Response(status_code=204)
