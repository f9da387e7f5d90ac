"""FakeUpstream: a real uvicorn server in a background thread, with recording, auth and failure knobs.

The flavor modules (`openai_like`, `tei`) declare endpoints; this module wraps each one with the
behaviour shared by all flavors (recording, bearer auth, fail_status, delay) and runs the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.common import AbruptClose, Reject, now

FLAVORS = ("openai", "vllm", "mistral", "tei", "albert", "anthropic")
Kind = Literal["inference", "probe", "health"]  # health: never needs auth
Handler = Callable[["FakeUpstream", Request, "Recorded"], Awaitable[Response]]
CUT = object()  # in a stream script: drop the connection there
# A stream script: bytes to send, seconds (float) to wait, CUT; a callable gives endless scripts.
Script = Iterable["bytes | float | object"] | Callable[[], Iterator["bytes | float | object"]]


@dataclass
class FormFile:
    """An uploaded file from a multipart request."""

    filename: str | None
    content_type: str | None
    content: bytes


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case keys
    json: Any | None
    form: dict[str, Any] | None  # str values, FormFile for uploads, lists for repeated keys
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    kind: Kind = "inference"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (FakeUpstream itself binds port 0, race-free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _HideAbruptClose(logging.Filter):
    """Drop uvicorn's traceback for the deliberate mid-stream disconnects."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        return not isinstance(exc, AbruptClose)


_uvicorn_error = logging.getLogger("uvicorn.error")
if not any(isinstance(f, _HideAbruptClose) for f in _uvicorn_error.filters):
    _uvicorn_error.addFilter(_HideAbruptClose())


class FakeUpstream:
    """A fake provider speaking `flavor`'s wire format on http://127.0.0.1:<port>."""

    def __init__(
        self,
        flavor: str,
        model: str = "upstream-model",
        *,
        context_length: int = 8192,
        embedding_dim: int = 8,
        api_key: str | None = None,
        tei_kind: str = "embedding",
        albert_type: str = "text-generation",
    ) -> None:
        if flavor not in FLAVORS:
            raise ValueError(f"unknown flavor {flavor!r}; expected one of {FLAVORS}")
        if tei_kind not in ("embedding", "reranker"):
            raise ValueError("tei_kind must be 'embedding' or 'reranker'")
        self.flavor = flavor
        self.model = model
        self.context_length = context_length
        self.embedding_dim = embedding_dim
        self.api_key = api_key
        self.tei_kind = tei_kind
        self.albert_type = albert_type  # the "type" Albert reports in /v1/models
        self.created = now()
        self.requests: list[Recorded] = []
        # Behaviour knobs: plain attributes, read on every request.
        self.fail_status: int | None = None
        self.fail_probe: bool = False
        self.delay: float = 0.0
        self.chunk_delay: float = 0.0
        self.cut_stream_after: int | None = None
        self.send_usage: bool = True
        self.reply: str | None = None
        # Hostile answers (fault-matrix tests): inference calls answer 200 with these instead.
        self.raw_answer: bytes | None = None  # a non-streamed body, sent as application/json
        self.stream_script: Script | None = None  # a streamed body: bytes, or seconds to wait
        self.retry_after: str | None = None  # Retry-After sent with fail_status
        # A gate: while `hold` is set, inference calls wait (after being recorded) until it is cleared,
        # so a test can act while a client is known to be mid-call (e.g. kill the process calling).
        self.hold = threading.Event()
        # False: behave like servers that ignore `top_n` (rerank, in input order) and `encoding_format`.
        self.honour_options: bool = True
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._sock: socket.socket | None = None
        self._stopping = False

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeUpstream is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeUpstream:
        if self._thread is not None:
            raise RuntimeError("FakeUpstream already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            self._build_app(),
            loop="asyncio",
            http="h11",
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = server = uvicorn.Server(config)
        self._stopping = False
        self._port = int(sock.getsockname()[1])
        self._thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"fake-{self.flavor}-{self._port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                self._thread = self._server = self._port = None
                raise RuntimeError(f"fake {self.flavor} upstream failed to start")
            time.sleep(0.005)
        self._sock = sock
        return self

    def stop(self) -> None:
        if self._thread is None or self._server is None:
            return
        self._stopping = True  # wakes handlers sleeping on delay/chunk_delay
        self._server.should_exit = True
        self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._thread = self._server = self._sock = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- helpers for tests -----------------------------------------------------------------------

    def calls(self, path: str) -> list[Recorded]:
        """Recorded requests to `path`."""
        return [r for r in self.requests if r.path == path]

    def reset(self) -> None:
        """Forget recorded requests and restore every behaviour knob."""
        self.requests.clear()
        self.fail_status, self.fail_probe, self.delay, self.chunk_delay = None, False, 0.0, 0.0
        self.cut_stream_after, self.send_usage, self.reply = None, True, None
        self.raw_answer, self.stream_script, self.retry_after = None, None, None
        self.hold.clear()
        self.honour_options = True

    async def sleep(self, seconds: float) -> None:
        """asyncio.sleep that ends early once stop() (another thread) sets the flag."""
        deadline = time.monotonic() + seconds
        while not self._stopping and (left := deadline - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(left, 0.05))

    # -- the app ---------------------------------------------------------------------------------

    def _flavor_module(self) -> Any:
        from tests.fakes import anthropic, mistral, openai_like, tei

        return {"tei": tei, "anthropic": anthropic, "mistral": mistral}.get(self.flavor, openai_like)

    def _build_app(self) -> Starlette:
        impl = self._flavor_module()
        routes = [
            Route(ep.path, self._wrap(ep, impl), methods=[ep.method]) for ep in impl.endpoints(self.flavor)
        ]
        every = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
        routes.append(Route("/{path:path}", self._not_found(impl), methods=every))
        return Starlette(routes=routes)

    def _wrap(self, ep: Endpoint, impl: Any) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            rec = await self._record(request)
            path = request.url.path
            if self.api_key is not None and ep.kind != "health":
                check = getattr(impl, "authorized", None)  # flavors with their own auth header
                allowed = (
                    check(self, request)
                    if check
                    else request.headers.get("authorization") == f"Bearer {self.api_key}"
                )
                if not allowed:
                    return impl.unauthorized(path)
            if ep.kind == "inference":
                while self.hold.is_set() and not self._stopping:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                await self.sleep(self.delay)
                status = self.fail_status
            else:
                status = (self.fail_status or 503) if self.fail_probe else None
            if status is not None:
                response = impl.failure(self, status, path)
                if self.retry_after is not None:
                    response.headers["Retry-After"] = self.retry_after
                return response
            if ep.kind == "inference" and (hostile := self._hostile(rec)) is not None:
                return hostile
            try:
                return await ep.handler(self, request, rec)
            except Reject as rejected:
                return rejected.response

        return endpoint

    def _hostile(self, rec: Recorded) -> Response | None:
        streaming = isinstance(rec.json, dict) and rec.json.get("stream") is True
        if streaming and self.stream_script is not None:
            return StreamingResponse(self._play(self.stream_script), media_type="text/event-stream")
        if not streaming and self.raw_answer is not None:
            return Response(self.raw_answer, media_type="application/json")
        return None

    async def _play(self, script: Script) -> AsyncIterator[bytes]:
        items = script() if callable(script) else iter(script)
        for item in items:
            if isinstance(item, bytes):
                yield item
                await asyncio.sleep(0)  # lets the server notice a client that left an endless script
            elif item is CUT:
                raise AbruptClose("scripted cut")
            else:
                await self.sleep(float(item))
            if self._stopping:
                return

    def _not_found(self, impl: Any) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            await self._record(request)
            return impl.not_found(request.method, request.url.path)

        return endpoint

    async def _record(self, request: Request) -> Recorded:
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        form: dict[str, Any] | None = None
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            with contextlib.suppress(Exception):
                form = await _read_form(request)
        parsed: Any | None = None
        if body and form is None:
            with contextlib.suppress(ValueError):
                parsed = json.loads(body)
        rec = Recorded(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            json=parsed,
            form=form,
            query=dict(request.query_params),
            body=body,
        )
        self.requests.append(rec)
        return rec


async def _read_form(request: Request) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with request.form() as form:
        for key, value in form.multi_items():
            item: Any = value
            if isinstance(value, UploadFile):
                item = FormFile(value.filename, value.content_type, await value.read())
            if key in out:
                previous = out[key]
                out[key] = [*previous, item] if isinstance(previous, list) else [previous, item]
            else:
                out[key] = item
    return out
