"""The OpenAPI document as /docs needs it: a bearer security scheme on every operation that takes a key
(so the Authorize button works), and the error statuses each operation can answer.

Built once, from the routes' own dependencies (no list to keep in step): an operation needs a key when
its dependency tree authenticates the caller; it can answer 403 when it checks a permission; 404 when
its path names an object; the inference operations (ADR 0011's lanes and the other model routes) can
also be refused by limits and budgets or fail upstream. Nothing of this runs on the request path."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts

from lockgate.api.anthropic import anthropic_principal
from lockgate.api.deps import get_any_principal, get_principal, get_principal_even_expired
from lockgate.api.errors import OPENGATE_ROUTES
from lockgate.identity.schemas import Principal

SCHEME = "bearer"
# Every way a surface authenticates its caller by key (the console's cookie routes are not in the schema).
_AUTH = {get_any_principal, get_principal, get_principal_even_expired, anthropic_principal}
# Inference routes: refused before any upstream call, or failed upstream (docs/api.md lists them).
_INFERENCE_PREFIXES = (
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/rerank",
    "/v1/audio/",
    "/v1/ocr",
    "/v1/responses",
    "/v1/messages",
)
_STATUSES = {
    "401": "Missing, unknown or expired API key.",
    "403": "The caller's role lacks the permission this operation needs (or the account expired).",
    "404": "The object does not exist or is not visible to the caller.",
    "400": "The user's budget cannot cover the request (code `insufficient_budget`, as OpenGateLLM).",
    "402": "The user's budget cannot cover the request.",
    "429": "A rate limit of the caller's role (rpm, rpd, tpm, tpd) is reached; see Retry-After.",
    "502": "The upstream provider failed.",
    "503": "No provider can take the request now, or limits cannot be checked; see Retry-After.",
    "504": "The upstream provider timed out.",
    "422": "A field of the body or a parameter is invalid; the error names it.",
}


def _calls(dependant: Dependant) -> set[Any]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def _permission_checked(dependant: Dependant) -> bool:
    """`require(...)` builds a closure named `check` that depends on the caller."""
    for sub in dependant.dependencies:
        if getattr(sub.call, "__name__", "") == "check" and _calls(sub) & _AUTH:
            return True
        if _permission_checked(sub):
            return True
    return False


def _document(operation: dict[str, Any], route: APIRoute) -> None:
    calls = _calls(route.dependant)
    statuses: list[str] = []
    if calls & _AUTH:
        operation["security"] = [{SCHEME: []}]
        statuses.append("401")
        if _permission_checked(route.dependant):
            statuses.append("403")
    if route.dependant.path_params:
        statuses.append("404")
    if route.path.startswith(_INFERENCE_PREFIXES):
        budget = "400" if route.path.startswith(OPENGATE_ROUTES) else "402"
        statuses += [budget, "429", "502", "503", "504"]
    if route.dependant.body_params or route.dependant.query_params or route.dependant.path_params:
        statuses.append("422")
    responses = operation.setdefault("responses", {})
    for status in statuses:
        # a dialect that declares its error body for every 4XX/5XX keeps that body on the named status
        ranged = responses.get(f"{status[0]}XX", {})
        entry = {"description": _STATUSES[status]}
        if "content" in ranged:
            entry["content"] = ranged["content"]
        responses.setdefault(status, entry)
    if not operation.get("description") and route.description:
        operation["description"] = route.description


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (sk-...), a session key from POST /v1/auth/login, or the master key.",
    }
    # FastAPI keeps included routers as wrappers: walk the routes as its own generator does
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        route = cast(APIRoute, context)  # the route as included (prefix and router dependencies applied)
        if not route.include_in_schema:
            continue
        path = schema["paths"].get(route.path_format, {})
        for method in route.methods or ():
            operation = path.get(method.lower())
            if operation is not None:
                _document(operation, route)
    return schema


def install_openapi(app: FastAPI, public: bool = True) -> None:
    """Replace FastAPI's generator with one that adds security and error statuses (built once). Not
    `public`: /openapi.json answers only to a valid key (FastAPI's own public route is off then)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    if not public:

        async def keyed_openapi(_: Annotated[Principal, Depends(get_any_principal)]) -> JSONResponse:
            return JSONResponse(openapi())

        app.add_api_route("/openapi.json", keyed_openapi, methods=["GET"], include_in_schema=False)
