"""The Anthropic Messages surface: POST /v1/messages and /v1/messages/count_tokens, a dialect over the
gateway core. Errors use Anthropic's envelope; keys come as `x-api-key` or `Authorization: Bearer`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from lockgate.accounting.service import CallContext
from lockgate.api.deps import bearer_token
from lockgate.api.errors import Dialect, dialect_route
from lockgate.errors import PermissionDenied
from lockgate.identity.schemas import Principal
from lockgate.kit.ids import unique_hex


async def anthropic_principal(request: Request) -> Principal:
    """The caller, from `x-api-key` (Anthropic's header) or a Bearer token. Collection keys refused."""
    key = request.headers.get("x-api-key") or bearer_token(request)
    principal: Principal = await request.app.state.lockgate.authenticator.authenticate(key)
    request.state.principal = principal
    if principal.collection_id is not None:
        raise PermissionDenied("This is a collection key: it can only chat with its collection.")
    return principal


async def anthropic_context(
    request: Request, principal: Annotated[Principal, Depends(anthropic_principal)]
) -> CallContext:
    return CallContext(principal, request.scope["path"], request.method, unique_hex())


AnthropicCaller = Annotated[Principal, Depends(anthropic_principal)]
AnthropicContext = Annotated[CallContext, Depends(anthropic_context)]


def anthropic_router() -> APIRouter:
    return APIRouter(prefix="/v1", tags=["anthropic"], route_class=dialect_route(Dialect.ANTHROPIC))
