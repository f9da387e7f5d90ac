"""The console's cookie session and CSRF protection.

The session cookie holds the key the login service returns (a session key: the same one
POST /v1/auth/login gives), so the console authenticates exactly like the API. Every unsafe request
must carry a CSRF token: an HMAC, keyed by the server secret, of a random per-browser seed cookie and
the session. A page receives its token in the HTML; a cross-site page can neither read it nor make it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from lockgate.errors import AppError, PermissionDenied, Unauthenticated
from lockgate.identity.schemas import Permission, Principal
from lockgate.state import AppState

SESSION_COOKIE = "lockgate_session"
SEED_COOKIE = "lockgate_csrf"
# Over TLS the cookies carry the __Host- prefix: the browser then refuses them unless Secure, Path=/
# and host-only, so a sibling subdomain or another path cannot plant a session or seed cookie of the
# same name that shadows ours (cookie tossing). Plain-HTTP trials cannot use it and keep Path=/ui.
HOST_PREFIX = "__Host-"
INSECURE_COOKIE_PATH = "/ui"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRefused(AppError):
    status_code = 403
    code = "csrf_refused"


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.lockgate
    return state


def _secure(request: Request) -> bool:
    return not _state(request).settings.console_insecure_cookies


def cookie_name(request: Request, name: str) -> str:
    """The name a console cookie is sent and read under: `__Host-<name>` over TLS, else `<name>`."""
    return HOST_PREFIX + name if _secure(request) else name


def read_cookie(request: Request, name: str) -> str | None:
    return request.cookies.get(cookie_name(request, name))


def _seed(request: Request) -> str:
    """This browser's CSRF seed: the cookie, or a new one that `set_cookies` will send."""
    seed = getattr(request.state, "csrf_seed", None) or read_cookie(request, SEED_COOKIE)
    if not seed:
        seed = secrets.token_urlsafe(24)
        request.state.new_csrf_seed = seed
    request.state.csrf_seed = seed
    return seed


def csrf_token(request: Request, session_key: str | None = None) -> str:
    """The token the pages of this browser and session must send back with every form post."""
    session = session_key if session_key is not None else read_cookie(request, SESSION_COOKIE) or ""
    message = f"{_seed(request)}|{hashlib.sha256(session.encode()).hexdigest()}".encode()
    return hmac.new(_state(request).console_key, message, hashlib.sha256).hexdigest()


async def check_csrf(request: Request) -> None:
    """Refuse (403) an unsafe request without a valid token, sent as the `X-CSRF-Token` header (htmx,
    fetch) or the `csrf_token` form field (plain forms)."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not read_cookie(request, SEED_COOKIE) or not sent:
        raise CsrfRefused("Missing CSRF token: reload the page and try again.")
    if not hmac.compare_digest(sent, csrf_token(request)):
        raise CsrfRefused("Invalid CSRF token: reload the page and try again.")


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
    secure = _secure(request)
    response.set_cookie(
        cookie_name(request, name),
        value,
        max_age=max_age,
        path="/" if secure else INSECURE_COOKIE_PATH,
        httponly=True,
        secure=secure,
        samesite="strict",
    )


def send_seed(request: Request, response: Response) -> None:
    """Send the CSRF seed cookie if this request made a new one."""
    seed = getattr(request.state, "new_csrf_seed", None)
    if seed:
        set_cookie(request, response, SEED_COOKIE, seed, None)


def start_session(request: Request, response: Response, session_key: str) -> None:
    set_cookie(request, response, SESSION_COOKIE, session_key, _state(request).settings.session_ttl_seconds)


def end_session(request: Request, response: Response) -> None:
    # expired with the same attributes it was set with, or a browser may keep the Secure cookie
    set_cookie(request, response, SESSION_COOKIE, "", 0)


async def viewer(request: Request) -> Principal:
    """The signed-in user (401 → the console redirects to the sign-in page)."""
    raw = read_cookie(request, SESSION_COOKIE)
    if not raw:
        raise Unauthenticated("Please sign in.")
    principal = await _state(request).authenticator.authenticate(raw)
    if principal.key_kind != "session":  # only the login service's keys open the console
        raise Unauthenticated("Please sign in.")
    request.state.principal = principal
    return principal


Viewer = Annotated[Principal, Depends(viewer)]


async def admin(principal: Viewer) -> Principal:
    if not principal.has(Permission.ADMIN):
        raise PermissionDenied("This page is for administrators.")
    return principal


async def model_admin(principal: Viewer) -> Principal:
    if not principal.has(Permission.PROVIDE_MODELS):
        raise PermissionDenied("This page needs the 'provide_models' permission.")
    return principal


Admin = Annotated[Principal, Depends(admin)]
ModelAdmin = Annotated[Principal, Depends(model_admin)]
