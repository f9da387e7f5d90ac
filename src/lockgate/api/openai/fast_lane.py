"""The gateway's hottest routes, POST /v1/chat/completions, /v1/completions and /v1/embeddings, served
without FastAPI's per-request machinery. Under load the profile showed dependency solving (cache keys,
scope checks, query parsing) and the exception/exit-stack middlewares taking about 40% of Lockgate's CPU
per request (ADR 0011).

The lane sits inside RequestContextMiddleware (request id, access log, metrics still apply) and does
what the FastAPI route would do, with the same functions: authenticate (collection keys refused),
validate the body with the same pydantic model (422 naming the field), delegate to the route's handler,
and render errors through the same handlers, in the OpenAI dialect. The FastAPI routes stay declared
so the OpenAPI document describes them."""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from lockgate.api.deps import call_context, get_principal
from lockgate.api.errors import Dialect, render_exception
from lockgate.api.json_text import check_decoded, may_hold_surrogate

HOT_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")
_OPENAI = Dialect.OPENAI  # read once: an enum member lookup costs ~0.15 µs on 3.11


@dataclass(frozen=True, slots=True)
class _Lane:
    route: APIRoute  # the declared route: its endpoint is called, its path labels the metrics
    model: type[BaseModel]  # the endpoint's `body` annotation, validated as FastAPI would


# What the lane calls: `await route.endpoint(body=<validated model>, ctx=<CallContext>, state=<AppState>)`.
LANE_PARAMETERS = ("body", "ctx", "state")


def lane_of(route: APIRoute) -> _Lane:
    """The lane of a hot route, once its endpoint is checked to take exactly what the lane passes: an
    async function of `body` (a pydantic model), `ctx` and `state`, by keyword. Raises RuntimeError
    (at startup) when it does not."""
    endpoint = route.endpoint
    params = inspect.signature(endpoint).parameters
    keywords = [
        name
        for name, p in params.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is p.empty
    ]
    body = typing.get_type_hints(endpoint).get("body")
    if (
        not inspect.iscoroutinefunction(endpoint)
        or sorted(keywords) != sorted(LANE_PARAMETERS)
        or len(params) != len(LANE_PARAMETERS)
        or not (isinstance(body, type) and issubclass(body, BaseModel))
    ):
        raise RuntimeError(
            f"fast lane: the endpoint of POST {route.path} must be `async def (body: <pydantic model>, "
            f"ctx, state)`, not {endpoint.__name__}{inspect.signature(endpoint)}"
        )
    return _Lane(route, body)


def lanes_of(routes: Iterable[BaseRoute]) -> dict[str, _Lane]:
    """The lanes, taken from the declared POST routes (as their routers hold them), so the lane serves
    exactly what they declare and a hot route that disappears, or whose endpoint no longer takes what the
    lane passes, stops the app at startup."""
    lanes = {
        route.path: lane_of(route)
        for route in routes
        if isinstance(route, APIRoute) and route.path in HOT_PATHS and "POST" in (route.methods or ())
    }
    if missing := set(HOT_PATHS) - set(lanes):
        raise RuntimeError(f"fast lane: no POST route declared for {sorted(missing)}")
    return lanes


async def read_body(receive: Receive) -> bytes:
    """The request body, read as Starlette's `Request.body()` reads it (ClientDisconnect if the client
    leaves first) without its stream generator: a JSON body comes in one message, ~2 µs less."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk: bytes = message.get("body", b"")
            if not message.get("more_body", False):
                return b"".join((*chunks, chunk)) if chunks else chunk
            chunks.append(chunk)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


async def parse_body(request: Request, model: type[BaseModel]) -> BaseModel:
    """The JSON body as `model`; errors as FastAPI reports them (loc starts with "body"). The body is
    read once, here: nothing on the lane reads it again."""
    raw = await read_body(request.receive)
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        _name_lone_surrogate(raw)  # orjson refuses one as bad JSON: say which field instead
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ]
        ) from exc
    if data is None:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from exc


def _name_lone_surrogate(raw: bytes) -> None:
    if may_hold_surrogate(raw):
        try:
            decoded = json.loads(raw)
        except (ValueError, RecursionError):
            return
        check_decoded(raw, decoded)


class InferenceFastLane:
    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute]):
        self.app = app
        self.lanes = lanes_of(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.lanes.get(scope["path"]) if scope["type"] == "http" else None
        if lane is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = lane.route
        request = Request(scope, receive)
        request.state.dialect = _OPENAI
        try:
            context = await call_context(request, await get_principal(request))
            body = await parse_body(request, lane.model)
            response = await lane.route.endpoint(body=body, ctx=context, state=scope["app"].state.lockgate)
        except Exception as exc:  # rendered exactly as the app's exception handlers would
            response = await render_exception(request, exc)
        await response(scope, receive, send)
