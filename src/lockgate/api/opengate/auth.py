"""/v1/auth/login: email + password → a session key."""

from __future__ import annotations

from fastapi import APIRouter, Request

from lockgate.api.deps import State
from lockgate.api.opengate.schemas import Login, LoginOut

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post("/login", response_model=LoginOut)
async def login(body: Login, state: State, request: Request) -> LoginOut:
    address = request.client.host if request.client else None
    created = await state.access.login(body.email, body.password, address)
    return LoginOut(id=created.id, key=created.key)
