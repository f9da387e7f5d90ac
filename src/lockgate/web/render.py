"""Templates, and the route class that turns the core's errors into console pages: a signed-out
visitor is sent to the sign-in page, anything else is shown as an error page with its status."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import HTMLResponse, RedirectResponse, Response

from lockgate.errors import AppError, Unauthenticated
from lockgate.identity.schemas import Permission, Principal
from lockgate.web.session import csrf_token, send_seed

HERE = Path(__file__).parent
log = logging.getLogger("lockgate.web")

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(ts: int | float | None) -> str:
    if not ts:
        return "—"
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


_env.filters["when"] = _when


def _nav(principal: Principal | None) -> list[tuple[str, str]]:
    if principal is None:
        return []
    items = [("/ui/playground", "Playground"), ("/ui/collections", "Collections"), ("/ui/usage", "Usage")]
    items.append(("/ui/keys", "API keys"))
    if principal.has(Permission.ADMIN):
        items += [
            ("/ui/admin/users", "Users"),
            ("/ui/admin/roles", "Roles"),
            ("/ui/admin/organizations", "Organizations"),
            ("/ui/admin/keys", "All keys"),
        ]
    if principal.has(Permission.PROVIDE_MODELS):
        items.append(("/ui/admin/models", "Models"))
    return items


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A full page (or, for a template named `_*.html`, a fragment htmx swaps in)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    html = _env.get_template(template).render(
        request=request,
        principal=principal,
        nav=_nav(principal),
        path=request.url.path,
        csrf=csrf_token(request),
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    send_seed(request, response)
    return response


def redirect(request: Request, url: str) -> Response:
    """Go to `url`: an HX-Redirect for htmx requests, a 303 otherwise."""
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _error_page(request: Request, status: int, message: str) -> Response:
    if request.headers.get("hx-request"):
        # a fragment for the part of the page that asked (htmx swaps 4xx/5xx in, see console.js)
        return page(request, "_error.html", status_code=status, message=message)
    return page(request, "error.html", status_code=status, message=message)


class ConsoleRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Unauthenticated:
                if request.method == "GET":
                    return redirect(request, f"/ui/login?next={quote(request.url.path)}")
                return _error_page(request, 401, "Your session has ended: please sign in again.")
            except AppError as exc:
                return _error_page(request, exc.status_code, exc.message)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
                field = ".".join(str(p) for p in first["loc"][1:]) or "request"
                return _error_page(request, 422, f"{field}: {first['msg']}")

        return route
