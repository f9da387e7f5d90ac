"""Pure ASGI middleware: request id on every response, access log line, request metrics."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lockgate.kit.ids import unique_hex
from lockgate.ops.access import CURRENT, AccessRecord, RateLimitWindow
from lockgate.ops.metrics import Metrics
from lockgate.ops.tracing import Tracing

log = logging.getLogger("lockgate.access")
REQUEST_ID_HEADER = b"x-request-id"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, tracing: Tracing | None = None):
        self.app = app
        self.metrics = metrics
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or unique_hex()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        record = AccessRecord()
        token = CURRENT.set(record)
        tracing = self.tracing
        if tracing is not None:
            span, span_token = tracing.start_request(scope, request_id)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                extra = [(REQUEST_ID_HEADER, request_id.encode())]
                if record.rate_limits:
                    extra += rate_limit_headers(record.rate_limits)
                message["headers"] = [*message["headers"], *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            CURRENT.reset(token)
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, elapsed)
            principal = state.get("principal")  # set by authentication; never the key itself
            if tracing is not None:
                user_id = principal.user_id if principal is not None else None
                tracing.end_request(span, span_token, getattr(route, "path", None), status, user_id)
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round(elapsed * 1000, 3),
                    "user_id": principal.user_id if principal is not None else None,
                    "key_id": principal.key_id if principal is not None else None,
                    "model": record.model,
                    "provider": record.provider,
                    "prompt_tokens": record.prompt_tokens,
                    "completion_tokens": record.completion_tokens,
                },
            )


def rate_limit_headers(windows: tuple[RateLimitWindow, ...]) -> list[tuple[bytes, bytes]]:
    """OpenAI's names: x-ratelimit-{limit,remaining,reset}-{requests,tokens}; reset as "42s"."""
    headers = []
    for unit, limit, remaining, reset_seconds in windows:
        limit_name, remaining_name, reset_name = _RATE_LIMIT_NAMES.get(unit) or _rate_limit_names(unit)
        headers += [
            (limit_name, str(limit).encode()),
            (remaining_name, str(remaining).encode()),
            (reset_name, f"{reset_seconds}s".encode()),
        ]
    return headers


def _rate_limit_names(unit: str) -> tuple[bytes, bytes, bytes]:
    return (
        f"x-ratelimit-limit-{unit}".encode(),
        f"x-ratelimit-remaining-{unit}".encode(),
        f"x-ratelimit-reset-{unit}".encode(),
    )


_RATE_LIMIT_NAMES = {unit: _rate_limit_names(unit) for unit in ("requests", "tokens")}  # built once


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER:
            candidate = value.decode("latin-1")[:128]
            return candidate if candidate.isprintable() else None
    return None
