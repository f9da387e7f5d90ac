"""The web console under /ui: server-rendered pages (Jinja2 + htmx) over the same domain services as
the API. Handlers translate forms to service calls and results to templates; no SQL, no rules here."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from lockgate.web import (
    admin_access,
    admin_keys,
    admin_models,
    admin_users,
    auth,
    chats,
    collections,
    keys,
    playground,
    search,
    usage,
)
from lockgate.web.render import HERE
from lockgate.web.session import check_csrf

log = logging.getLogger("lockgate.web")
PAGES = (
    auth,
    playground,
    collections,
    search,
    chats,
    keys,
    admin_users,
    admin_access,
    admin_keys,
    admin_models,
    usage,
)
HTMX = HERE / "static" / "vendor" / "htmx.min.js"


def install_console(app: FastAPI) -> None:
    """Mount the console's pages and static files on `app`; every unsafe request needs a CSRF token."""
    console = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
    for module in PAGES:
        console.include_router(module.router)
    app.include_router(console)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="console-static")
    if not HTMX.exists():
        log.warning("console: %s is missing (run `make web-assets`); pages work without htmx", HTMX)
