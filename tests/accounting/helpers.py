"""Small helpers to set up users with limits and budgets on a live server."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.helpers import bearer
from tests.live import Live

_seq = itertools.count(1)
PING = {"messages": [{"role": "user", "content": "ping"}]}


def router_id(live: Live, name: str) -> int:
    return next(
        r["id"]
        for r in live.admin.get("/v1/admin/routers", params={"limit": 100}).json()["data"]
        if r["name"] == name
    )


def member_key(live: Live, limits: list[dict] | None = None, **user: Any) -> tuple[int, str]:
    n = next(_seq)
    role = live.admin.post("/v1/admin/roles", json={"name": f"acct-role-{n}", "limits": limits or []})
    assert role.status_code == 201, role.text
    body = {"email": f"acct{n}@example.org", "password": "pw", "role": role.json()["id"], **user}
    created = live.admin.post("/v1/admin/users", json=body)
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    token = live.admin.post("/v1/admin/tokens", json={"name": "k", "user": user_id}).json()["token"]
    return user_id, token


def chat(live: Live, key: str, model: str = "chat", **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{live.url}/v1/chat/completions",
        headers=bearer(key),
        json={"model": model, **PING, **extra},
        timeout=120,
    )
