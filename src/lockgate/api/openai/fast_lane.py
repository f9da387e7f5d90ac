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

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from lockgate.api.deps import call_context, get_principal
from lockgate.api.errors import render_exception
from lockgate.api.openai import embeddings, generation
from lockgate.api.openai.schemas import ChatRequest, CompletionRequest, EmbeddingRequest

Handler = Callable[[Any, Any, Any], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class _Lane:
    path: str  # the route template, for metrics (as FastAPI's route would report it)
    model: type[BaseModel]
    handler: Handler


LANES = {
    "/v1/chat/completions": _Lane("/v1/chat/completions", ChatRequest, generation.chat_completions),
    "/v1/completions": _Lane("/v1/completions", CompletionRequest, generation.completions),
    "/v1/embeddings": _Lane("/v1/embeddings", EmbeddingRequest, embeddings.embeddings),
}


async def parse_body(request: Request, model: type[BaseModel]) -> BaseModel:
    """The JSON body as `model`; errors as FastAPI reports them (loc starts with "body")."""
    raw = await request.body()
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "input": {}}]
        ) from exc
    if data is None:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from exc


class InferenceFastLane:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = LANES.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if lane is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = lane
        request = Request(scope, receive)
        request.state.dialect = "openai"
        try:
            context = await call_context(request, await get_principal(request))
            body = await parse_body(request, lane.model)
            response = await lane.handler(body, context, scope["app"].state.lockgate)
        except Exception as exc:  # rendered exactly as the app's exception handlers would
            response = await render_exception(request, exc)
        await response(scope, receive, send)
