"""Render the core's errors in each dialect. OpenGateLLM answers FastAPI-style {"detail": ...};
the OpenAI inference routes (mark them with `dialect = "openai"` on request.state) are served to both
OpenAI and OpenGateLLM clients, so they answer a superset both read: {"error": {"message", "type",
"param", "code"}, "detail": ...}; the h2oGPTe routes (`dialect = "h2ogpte"`) answer {"code", "message"};
the Anthropic Messages routes (`dialect = "anthropic"`) answer
{"type": "error", "error": {"type", "message"}, "request_id"}, with 400 for any invalid request; the
h2oGPTe /rpc routes (`h2ogpte_rpc`) answer {"error"}."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from enum import StrEnum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import exc as sql_errors
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from lockgate.errors import AppError, UpstreamError
from lockgate.gateway.bounds import TOKEN_COUNT_FIELDS, TOKEN_COUNT_RULE

log = logging.getLogger("lockgate.errors")


class Dialect(StrEnum):
    """The error shape a surface answers in."""

    OPENGATE = "opengate"
    OPENAI = "openai"
    H2OGPTE = "h2ogpte"
    H2OGPTE_RPC = "h2ogpte_rpc"
    ANTHROPIC = "anthropic"


def dialect_route(dialect: Dialect) -> type[APIRoute]:
    """A route class that marks its requests with `dialect` before anything else runs, so that even a
    body that is not JSON (rejected before any dependency) gets the dialect's error shape."""

    class DialectRoute(APIRoute):
        dialect_name = dialect  # read by middleware that answers before routing (json_text)

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def marked(request: Request) -> Response:
                request.state.dialect = dialect
                return await handler(request)

            return marked

    return DialectRoute


# -- the error bodies, one model per dialect, declared once on each dialect's routers ---------------


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | int | None = None


class OpenAIError(BaseModel):
    """What every OpenAI-dialect route answers on error (4xx and 5xx)."""

    error: OpenAIErrorDetail


class H2ogpteError(BaseModel):
    """What every h2oGPTe route answers on error (4xx and 5xx)."""

    code: int
    message: str


def error_responses(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a dialect's routers: every 4xx and 5xx has this body (it replaces FastAPI's
    default 422 HTTPValidationError, which these dialects do not send)."""
    return {
        "4XX": {"model": model, "description": "The request cannot be served as sent."},
        "5XX": {"model": model, "description": "Lockgate or an upstream failed."},
    }


def _dialect(request: Request) -> Dialect:
    return Dialect(getattr(request.state, "dialect", Dialect.OPENGATE))


def _openai_type(status: int) -> str:
    """OpenAI's error `type` for an HTTP status."""
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 404:
        return "not_found_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "api_error"
    return "invalid_request_error"


# Anthropic's error `type` by HTTP status (its SDK maps each status to an exception class).
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}


def anthropic_error_type(status: int) -> str:
    return _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def _render(
    request: Request,
    status: int,
    message: str,
    code: str,
    param: str | None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    dialect = _dialect(request)
    if dialect == Dialect.ANTHROPIC:
        status = 400 if status == 422 else status  # Anthropic answers 400 to every malformed request
        error = {"type": anthropic_error_type(status), "message": message}
        body = {"type": "error", "error": error, "request_id": getattr(request.state, "request_id", None)}
    elif dialect == Dialect.OPENAI:
        body = {
            "error": {"message": message, "type": _openai_type(status), "param": param, "code": code},
            "detail": message,
        }
    elif dialect == Dialect.H2OGPTE:
        body = {"code": status, "message": message}
    elif dialect == Dialect.H2OGPTE_RPC:  # the H2OGPTE class reads {"error": ...} from its /rpc calls
        body = {"error": message}
    elif status == 422:  # OpenGateLLM declares FastAPI's HTTPValidationError for 422: a list of fields
        loc = ["body", *param.split(".")] if param else ["body"]
        body = {"detail": [{"loc": loc, "msg": message, "type": code}]}
    else:
        body = {"detail": message}
    return JSONResponse(body, status_code=status, headers=headers)


# An upstream's own error text may name internal addresses: callers never see them (the provider
# failure log line keeps the full message).
_URL = re.compile(r"\b(?:https?|wss?)://[^\s'\"<>)]+")

# Routes OpenGateLLM also serves: there an exhausted budget is a 400, as its clients expect (the other
# surfaces keep 402, Payment Required: the Anthropic and Responses clients map it to a billing error).
OPENGATE_ROUTES = (
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/rerank",
    "/v1/audio/",
    "/v1/ocr",
    "/v1/search",
    "/v1/documents",
    "/v1/parse-beta",
)


def _status(request: Request, exc: AppError) -> int:
    if exc.code == "insufficient_budget" and request.url.path.startswith(OPENGATE_ROUTES):
        return 400
    return exc.status_code


async def _app_error(request: Request, exc: AppError) -> JSONResponse:
    message = _URL.sub("<upstream>", exc.message) if isinstance(exc, UpstreamError) else exc.message
    return _render(request, _status(request, exc), message, exc.code, exc.param, exc.headers)


# Labels pydantic puts in an error's location for the branch of a union it tried: not field names.
_BRANCH_LABELS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})


def _field_path(loc: Sequence[Any], body: Any) -> list[str]:
    """The client's field path of a pydantic error location: without the labels of union branches
    (`str`, `list[int]`, `constrained-str`) nor a tagged union's tag (the `type` value pydantic puts in
    the location, e.g. `tools.0.function.parameters` for a Responses tool that has no `function` key)."""
    path: list[str] = []
    node, tagged = body, None
    for p in loc:
        if isinstance(p, str) and ("[" in p or p in _BRANCH_LABELS or p.startswith("constrained-")):
            continue
        if isinstance(node, dict) and node is not tagged and p not in node and p == node.get("type"):
            tagged = node  # the tag of the union member the object was read as (once per object)
            continue
        path.append(str(p))
        if isinstance(node, dict):
            node = node.get(p)
        elif isinstance(node, list) and isinstance(p, int) and 0 <= p < len(node):
            node = node[p]
        else:
            node = None
    return path


# Errors of a count of tokens asked for (one rule, gateway.bounds.TokenCount, on every surface): said
# once the same way whatever the surface calls the field and whichever bound or type check failed.
_COUNT_ERRORS = frozenset(
    {"int_type", "int_parsing", "int_from_float", "less_than_equal", "greater_than_equal", "finite_number"}
)


def _first_problem(errors: Sequence[Any], deepest: bool, body: Any = None) -> tuple[str, str | None]:
    """The validation error to report as (message, param): the first, or the deepest (for a union
    field, `input`: string or items, it names the bad item). A JSON syntax error names no field: its
    position goes in the message, `param` stays null."""
    if not errors:
        return "body: invalid request.", None
    syntax = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if syntax is not None:
        position = syntax["loc"][1] if len(syntax["loc"]) > 1 else None
        reason = (syntax.get("ctx") or {}).get("error")
        where = f" at character {position}" if isinstance(position, int) else ""
        return f"body: not valid JSON{where}" + (f" ({reason})." if reason else "."), None
    first = max(errors, key=lambda e: len(e["loc"])) if deepest else errors[0]
    path = _field_path(first["loc"][1:], body)
    param = ".".join(path) or None
    if path and path[-1] in TOKEN_COUNT_FIELDS and first.get("type") in _COUNT_ERRORS:
        return f"{param}: {TOKEN_COUNT_RULE}.", param
    return f"{param or 'body'}: {first['msg']}", param


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    dialect = _dialect(request)
    # FastAPI's own shape, as OpenGateLLM answers: a list naming every bad field.
    detail = [{k: v for k, v in err.items() if k in {"loc", "msg", "type"}} for err in errors]
    if dialect in ("h2ogpte", "h2ogpte_rpc", "openai", "anthropic"):
        deepest = dialect not in ("h2ogpte", "h2ogpte_rpc")
        message, param = _first_problem(errors, deepest, exc.body)
        if dialect == "openai":  # OpenGateLLM clients read FastAPI's list beside OpenAI's first field
            code = "invalid_request_error"
            error = {"message": message, "type": code, "param": param, "code": code}
            return JSONResponse({"error": error, "detail": detail}, status_code=422)
        return _render(request, 422, message, "invalid_request_error", param)
    return JSONResponse({"detail": detail}, status_code=422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return _render(
        request, exc.status_code, str(exc.detail), "http_error", None, getattr(exc, "headers", None)
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"request_id": request.scope.get("state", {}).get("request_id")})
    return _render(request, 500, "Internal server error.", "internal_error", None)


# How long a client is told to wait when the database (or the disk) fails under a request: about the
# readiness check's period, after which a load balancer has taken an unready replica out.
UNAVAILABLE_RETRY_SECONDS = 5


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """The database went away under the request (connection refused or lost, pool exhausted, file
    unreadable): 503 with Retry-After, as /health/readiness says unready. Other database errors are bugs."""
    lost = isinstance(exc, sql_errors.OperationalError | sql_errors.InterfaceError | sql_errors.TimeoutError)
    if not lost and not (isinstance(exc, sql_errors.DBAPIError) and exc.connection_invalidated):
        return await _unexpected(request, exc)
    return _unavailable(request, exc, "the database cannot be reached")


async def _os_error(request: Request, exc: Exception) -> JSONResponse:
    """A connection (the database's, raised by the driver while connecting, unwrapped) or the disk
    failed: 503 + Retry-After."""
    if _raised_by_database_driver(exc):
        return _unavailable(request, exc, "the database cannot be reached")
    return _unavailable(request, exc, "a resource it depends on is unavailable")


def _raised_by_database_driver(exc: BaseException) -> bool:
    traceback = exc.__traceback__
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        if module.startswith(("sqlalchemy.", "asyncpg.", "aiosqlite.")):
            return True
        traceback = traceback.tb_next
    return False


def _unavailable(request: Request, exc: Exception, what: str) -> JSONResponse:
    request_id = request.scope.get("state", {}).get("request_id")
    log.error(
        f"request failed: {what}",
        extra={"request_id": request_id, "error": f"{type(exc).__name__}: {exc}"[:500]},
    )
    message = f"Lockgate cannot serve this request right now: {what}. Retry shortly."
    headers = {"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)}
    return _render(request, 503, message, "service_unavailable", None, headers)


_HANDLERS: tuple[tuple[type[Exception], Callable[[Request, Any], Awaitable[JSONResponse]]], ...] = (
    (AppError, _app_error),
    (RequestValidationError, _validation_error),
    (StarletteHTTPException, _http_error),
    (sql_errors.DBAPIError, _database_error),  # OperationalError, InterfaceError...
    (sql_errors.TimeoutError, _database_error),  # no pooled connection freed in time
    (OSError, _os_error),  # ConnectionRefusedError, FileNotFoundError (a socket), disk full...
)


async def render_exception(request: Request, exc: Exception) -> JSONResponse:
    """What the installed handlers answer for `exc`: for routes served outside FastAPI's routing."""
    for kind, handler in _HANDLERS:
        if isinstance(exc, kind):
            return await handler(request, exc)
    return await _unexpected(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    for kind, handler in _HANDLERS:
        app.add_exception_handler(kind, handler)
    app.add_exception_handler(Exception, _unexpected)
