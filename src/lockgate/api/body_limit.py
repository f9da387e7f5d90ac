"""Request bodies bounded while they are read, before any route, authentication or multipart spooling.

A body whose declared Content-Length is over its limit is refused (413): up to twice the limit it is read
and discarded first (a client that sends its whole body before reading, as httpx and requests do, would
otherwise meet a connection reset instead of the 413 — nginx's lingering close does the same), beyond
that without reading a byte; a body
sent without one (chunked) is refused as soon as the bytes read pass the limit, so at most `limit` bytes
are ever held. Limits by route class: uploads (multipart forms), login, everything else (JSON). A client
that stops sending its body for `idle_seconds` gets a 408 (slow-client protection)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lockgate.api.errors import Dialect, render_exception

# Form fields next to an uploaded file (names, metadata, chunking options) are small.
FORM_OVERHEAD_BYTES = 1024 * 1024
# Email and password: nothing legitimate comes near this.
LOGIN_BODY_BYTES = 64 * 1024
_LOGIN_PATHS = frozenset({"/v1/auth/login", "/ui/login"})
_OPENAI_PREFIXES = ("/v1/chat/", "/v1/completions", "/v1/embeddings", "/v1/audio/", "/v1/rerank", "/v1/ocr")


class BodyTimeout(HTTPException):
    def __init__(self, seconds: float):
        super().__init__(408, f"Request body not received: nothing arrived for {seconds:g}s.")


class BodyTooLarge(HTTPException):
    """Raised from `receive` past the limit: an HTTPException, so routes and form parsing let it through
    and every dialect renders it."""

    def __init__(self, limit: int):
        super().__init__(413, f"Request body larger than the {limit} bytes allowed here.")


@dataclass(frozen=True, slots=True)
class BodyLimits:
    json_bytes: int
    upload_bytes: int
    idle_seconds: float = 60.0

    def for_request(self, path: str, content_type: bytes) -> int:
        if path in _LOGIN_PATHS:
            return LOGIN_BODY_BYTES
        if content_type.startswith(b"multipart/form-data"):
            return self.upload_bytes + FORM_OVERHEAD_BYTES
        return self.json_bytes


# Read once: an enum member lookup costs ~0.15 µs on 3.11, and every request asks.
_H2OGPTE, _OPENAI, _OPENGATE = Dialect.H2OGPTE, Dialect.OPENAI, Dialect.OPENGATE


def error_dialect(path: str) -> Dialect:
    """The error shape a path's surface answers, known before any route runs."""
    if path.startswith("/api/"):
        return _H2OGPTE
    if path.startswith(_OPENAI_PREFIXES):
        return _OPENAI
    return _OPENGATE


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: BodyLimits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        content_type = b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = int(value) if value.isdigit() else None
            elif name == b"content-type":
                content_type = value.lower()
        limit = self.limits.for_request(scope["path"], content_type)
        scope.setdefault("state", {}).setdefault("dialect", error_dialect(scope["path"]))
        if declared is not None and declared > limit:
            if declared <= 2 * limit:
                await self._discard_body(receive)
            response = await render_exception(Request(scope), BodyTooLarge(limit))
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        received = 0
        complete = False
        idle = self.limits.idle_seconds

        async def bounded_receive() -> Message:
            nonlocal received, complete
            if complete:  # after the body, receive() waits for the disconnect: no timeout there
                return await receive()
            try:
                async with asyncio.timeout(idle):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(idle) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, bounded_receive, send)

    async def _discard_body(self, receive: Receive) -> None:
        """Read the body to its end, keeping nothing; give up when the client goes quiet or away."""
        try:
            while True:
                async with asyncio.timeout(self.limits.idle_seconds):
                    message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return
        except TimeoutError:
            return
