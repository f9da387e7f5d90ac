"""A thin client for the tests: admin calls by default, quick ways to make users and keys."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text

from lockgate.state import AppState

MASTER_KEY = "sk-test-master-key-0123456789"
_seq = itertools.count(1)


def fresh_minute(room: float = 20.0) -> None:
    """Rate-limit windows are fixed minutes (floor(now / 60)): a test that counts requests in one
    window first waits for the next minute when fewer than `room` seconds of this one are left, so a
    busy machine cannot split its count across two windows (both would let the requests through)."""
    left = 60 - time.time() % 60
    if left < room:
        time.sleep(left + 0.05)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Member:
    id: int
    email: str
    password: str
    key: str
    role: int


class Api:
    def __init__(self, client: httpx.AsyncClient, state: AppState):
        self.client = client
        self.state = state

    async def request(
        self, method: str, path: str, key: str | None = MASTER_KEY, **kwargs: Any
    ) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if key is not None:
            headers = {**bearer(key), **headers}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    async def create_role(
        self, permissions: list[str] | None = None, limits: list[dict] | None = None
    ) -> int:
        body = {"name": f"role-{next(_seq)}", "permissions": permissions or [], "limits": limits or []}
        response = await self.post("/v1/admin/roles", json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def create_router(self, type_: str = "text-generation") -> int:
        response = await self.post("/v1/admin/routers", json={"name": f"router-{next(_seq)}", "type": type_})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def create_member(
        self, permissions: list[str] | None = None, role: int | None = None, **fields: Any
    ) -> Member:
        """A user with a role and an API key of their own."""
        role = role if role is not None else await self.create_role(permissions)
        n = next(_seq)
        email, password = f"user{n}@example.org", f"pw-{n}-secret"
        response = await self.post(
            "/v1/admin/users", json={"email": email, "password": password, "role": role, **fields}
        )
        assert response.status_code == 201, response.text
        user_id = response.json()["id"]
        response = await self.post("/v1/admin/tokens", json={"name": "k", "user": user_id})
        assert response.status_code == 201, response.text
        return Member(user_id, email, password, response.json()["token"], role)

    async def sql(self, statement: str, **params: Any) -> list[Any]:
        """Reach into the database directly, for states the API rightly refuses to create."""
        async with self.state.db.transaction() as session:
            result = await session.execute(text(statement), params)
            return list(result.fetchall()) if result.returns_rows else []
