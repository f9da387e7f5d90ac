"""A browser-like client of the console for tests without a browser: keeps cookies (over https, so
Secure cookies are sent) and reads the CSRF token the pages carry."""

from __future__ import annotations

import re

import httpx

TOKEN = re.compile(r'name="csrf-token" content="([0-9a-f]+)"')


def csrf_of(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


class Console:
    def __init__(self, app):
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://lockgate.test", follow_redirects=False
        )
        self.csrf = ""

    async def __aenter__(self) -> Console:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.client.aclose()

    async def get(self, path: str, **kwargs) -> httpx.Response:
        response = await self.client.get(path, **kwargs)
        if "csrf-token" in response.text:
            self.csrf = csrf_of(response.text)
        return response

    async def post(self, path: str, data: dict | None = None, csrf: bool = True, **kwargs) -> httpx.Response:
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.csrf
        return await self.client.post(path, data=data, **kwargs)

    async def sign_in(self, email: str, password: str) -> httpx.Response:
        await self.get("/ui/login")
        response = await self.post("/ui/login", {"email": email, "password": password})
        assert response.status_code == 303, response.text
        await self.get("/ui/playground")  # the token changes with the session
        return response
