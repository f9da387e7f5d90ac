"""Sign-in and sign-out: the login service (POST /v1/auth/login's) behind a form and a cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from lockgate.api.deps import State
from lockgate.errors import AppError
from lockgate.web.render import ConsoleRoute, page, redirect
from lockgate.web.session import SESSION_COOKIE, end_session, read_cookie, start_session

router = APIRouter(route_class=ConsoleRoute)
HOME = "/ui/playground"


def _next(url: str | None) -> str:
    """Only a console path: never an open redirect to another site."""
    if url and url.startswith("/ui/") and not url.startswith("//") and "\\" not in url:
        return url
    return HOME


@router.get("/ui")
@router.get("/ui/")
async def home() -> Response:
    return Response(status_code=303, headers={"Location": HOME})


@router.get("/ui/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    return page(request, "login.html", next=_next(next), error=None, email="")


@router.post("/ui/login")
async def login(
    request: Request,
    state: State,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str | None, Form(max_length=2048)] = None,
) -> Response:
    try:
        address = request.client.host if request.client else None
        created = await state.access.login(email, password, address)
    except AppError as exc:  # wrong password, expired user, throttled: said on the form
        refused = page(
            request,
            "login.html",
            status_code=exc.status_code,
            next=_next(next),
            error=exc.message,
            email=email,
        )
        refused.headers.update(exc.headers)  # e.g. Retry-After when sign-ins are throttled
        return refused
    response = redirect(request, _next(next))
    start_session(request, response, created.key)
    return response


@router.post("/ui/logout")
async def logout(request: Request, state: State) -> Response:
    raw = read_cookie(request, SESSION_COOKIE)
    if raw:
        await state.access.logout(raw)
    response = redirect(request, "/ui/login")
    end_session(request, response)
    return response
