"""Lone UTF-16 surrogates in JSON bodies: a 422 naming the field, before any route stores or echoes them.

JSON may spell a half of a surrogate pair alone (`"\\ud800"`), and Python's `json` decodes it into a
`str` that cannot be encoded as UTF-8: the database write or the response encoding would then fail
with a 500. pydantic refuses such strings only in fields with constraints, so the check is done once
for every JSON body here. The raw bytes are scanned first (one regex pass in C); only a body that may
hold one is decoded and walked to name the field."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lockgate.api.errors import Dialect, render_exception

# `\uD800` to `\uDFFF` as a JSON escape, or encoded raw (json.loads decodes bytes with surrogatepass).
# A valid pair also matches: the walk then finds nothing and the request goes on.
_MAY_HOLD = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\xed[\xa0-\xbf]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Surfaces whose every route speaks one dialect (their routers mark it with a dependency).
_PREFIX_DIALECTS = (("/api/v1/", Dialect.H2OGPTE), ("/rpc/", Dialect.H2OGPTE_RPC))


def may_hold_surrogate(raw: bytes) -> bool:
    return _MAY_HOLD.search(raw) is not None


def surrogate_location(value: Any) -> tuple[str | int, ...] | None:
    """Where the first string (or object key) holding a lone surrogate is, as a pydantic `loc` tail.
    Walked with a stack of its own: a body nested as deep as the decoder allows cannot overflow it."""
    pending: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return where
        elif isinstance(item, dict):
            for key in item:
                if _SURROGATE.search(key):
                    return (*where, key.encode("utf-8", "backslashreplace").decode())
            pending.extend(((*where, k), v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            pending.extend(((*where, i), v) for i, v in reversed(list(enumerate(item))))
    return None


def surrogate_error(location: tuple[str | int, ...]) -> RequestValidationError:
    """The 422 every dialect renders, naming the field as pydantic would."""
    return RequestValidationError(
        [
            {
                "type": "string_unicode",
                "loc": ("body", *location),
                "msg": "holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not a Unicode character",
                "input": None,
            }
        ]
    )


def check_decoded(raw: bytes, decoded: Any) -> None:
    """Raise the 422 when `decoded` (the JSON of `raw`) holds a lone surrogate."""
    if may_hold_surrogate(raw):
        location = surrogate_location(decoded)
        if location is not None:
            raise surrogate_error(location)


class LoneSurrogateGuard:
    """ASGI middleware: a JSON body is read whole (the body limit in front bounds it), checked, and
    handed on unchanged. Placed behind the inference fast lane, which checks its own bodies."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute] = ()):
        """`routes`: the routes whose class names their error dialect (`dialect_route`), so a refusal
        made here, before routing, answers in the dialect the route would have used."""
        self.app = app
        self.routes = [r for r in routes if getattr(r, "dialect_name", None)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        try:
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body", False):
                    break
        except HTTPException as exc:  # the body limit's 413/408, raised from receive
            await (await render_exception(Request(scope), exc))(scope, receive, send)
            return
        raw = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        if may_hold_surrogate(raw):
            try:
                decoded = json.loads(raw)
            except (ValueError, RecursionError):
                decoded = None  # not JSON (or too deep for it): the route's own parsing reports it
            location = surrogate_location(decoded)
            if location is not None:
                request = Request(scope)
                request.state.dialect = self._dialect(scope)
                response = await render_exception(request, surrogate_error(location))
                await response(scope, receive, send)
                return
        pending = iter(messages)  # handed on exactly as received

        async def replay() -> Message:
            return next(pending, None) or await receive()

        await self.app(scope, replay, send)

    def _dialect(self, scope: Scope) -> Dialect:
        for route in self.routes:
            if route.matches(scope)[0] == Match.FULL:
                dialect: Dialect = route.dialect_name  # type: ignore[attr-defined]  # set by dialect_route
                return dialect
        path = scope["path"]
        for prefix, dialect in _PREFIX_DIALECTS:
            if path.startswith(prefix):
                return dialect
        return Dialect.OPENGATE


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return b"json" in value.lower()
    return False
