"""Dependencies shared by every surface: the app state and the authenticated caller."""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request
from starlette.requests import HTTPConnection

from lockgate.accounting.service import CallContext
from lockgate.errors import PermissionDenied
from lockgate.identity.schemas import Permission, Principal
from lockgate.kit.ids import unique_hex
from lockgate.kit.pagination import MAX_OFFSET, Page
from lockgate.state import AppState


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.lockgate
    return state


_AUTHORIZATION = b"authorization"


def bearer_token(request: HTTPConnection) -> str | None:
    """The key of `Authorization: Bearer <key>` (HTTP request or websocket handshake). Read from the
    raw ASGI headers (names are lower-case there), the first one as Starlette's `headers.get` would:
    building Starlette's Headers costs ~1.5 µs on every inference request."""
    for name, value in request.scope["headers"]:
        if name == _AUTHORIZATION:
            header = value.decode("latin-1")
            break
    else:
        return None
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def get_any_principal(request: Request) -> Principal:
    """The caller, collection keys included: only for the routes a collection key may use (chat)."""
    principal: Principal = await request.app.state.lockgate.authenticator.authenticate(bearer_token(request))
    request.state.principal = principal
    return principal


async def get_principal(request: Request) -> Principal:
    """The caller. A collection key is refused here: it may only chat with its collection."""
    principal = await get_any_principal(request)
    if principal.collection_id is not None:
        raise PermissionDenied("This is a collection key: it can only chat with its collection.")
    return principal


async def get_principal_even_expired(request: Request) -> Principal:
    """The caller even when their account expired (not their key): for GET /v1/me/info only."""
    principal: Principal = await request.app.state.lockgate.authenticator.authenticate(
        bearer_token(request), expired_user_ok=True
    )
    if principal.collection_id is not None:
        raise PermissionDenied("This is a collection key: it can only chat with its collection.")
    request.state.principal = principal
    return principal


State = Annotated[AppState, Depends(get_state)]
# Every database id in a path: bounded so a huge number is a 422, not a database overflow.
DbId = Annotated[int, Path(ge=0, le=2**31 - 1)]
Caller = Annotated[Principal, Depends(get_principal)]
ExpiredCaller = Annotated[Principal, Depends(get_principal_even_expired)]
# Chat routes of the h2oGPTe surface: the service then keeps a collection key to its own collection.
ChatCaller = Annotated[Principal, Depends(get_any_principal)]


async def call_context(request: Request, principal: Caller) -> CallContext:
    """Who calls which inference endpoint, for admission and usage records. The usage record gets an id
    of our own: a client's X-Request-ID may repeat or be long, and must never drop or block a record."""
    return CallContext(principal, request.scope["path"], request.method, unique_hex())


Context = Annotated[CallContext, Depends(call_context)]


def require(*permissions: Permission) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that lets the caller through only with one of `permissions` (admin has all)."""

    async def check(principal: Caller) -> Principal:
        if not any(principal.has(p) for p in permissions):
            names = " or ".join(p.value for p in permissions)
            raise PermissionDenied(f"Permission denied: this operation requires the '{names}' permission.")
        return principal

    return check


def page_params(order_fields: tuple[str, ...], noun: str) -> Callable[..., Coroutine[Any, Any, Page]]:
    """Offset/limit/order query parameters as OpenGateLLM specifies them, validated (422 when wrong)."""
    order_type = Literal[order_fields]  # type: ignore[valid-type]

    async def params(
        offset: Annotated[
            int, Query(ge=0, le=MAX_OFFSET, description=f"The offset of the {noun} to get.")
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=100, description=f"The limit of the {noun} to get.")] = 10,
        order_by: Annotated[order_type, Query(description=f"The field to order the {noun} by.")] = "id",
        order_direction: Annotated[Literal["asc", "desc"], Query()] = "asc",
    ) -> Page:
        return Page(offset=offset, limit=limit, order_by=order_by, order_direction=order_direction)

    return params
