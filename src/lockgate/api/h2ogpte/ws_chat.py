"""The h2oGPTe chat websocket, /ws?currentSessionID=<id>, as `H2OGPTE.connect()` uses it.

Authenticated at the handshake with the same Bearer key as REST (a refused key or session is an HTTP
error at the handshake, which the client raises as UnauthorizedError / ObjectNotFoundError). Each `cq`
frame is answered by the completion service that REST completions use — stored, referenced and
metered alike — in its own task, so several questions (of several sessions) run at once on one
connection. When the client goes away, the answers still running are cancelled: the generation stops
and what was used is recorded (conversations/completion.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from lockgate.accounting.service import CallContext
from lockgate.api.deps import bearer_token
from lockgate.api.h2ogpte import ws_frames as F
from lockgate.api.h2ogpte.common import from_public_id
from lockgate.errors import AppError, ServiceUnavailable
from lockgate.identity.schemas import Principal
from lockgate.kit.ids import unique_hex
from lockgate.state import AppState

log = logging.getLogger("lockgate.api.h2ogpte.ws")
router = APIRouter(tags=["h2oGPTe client"])

MAX_RUNNING = 8  # answers in progress on one connection
UNSUPPORTED_DATA = 1003  # websocket close code: a binary frame


class Connection:
    """One client connection: the caller, the answers running, and one writer at a time."""

    def __init__(self, websocket: WebSocket, state: AppState, principal: Principal):
        self.websocket = websocket
        self.state = state
        self.principal = principal
        self.running: dict[str, asyncio.Task[None]] = {}  # by correlation id
        self._send_lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.websocket.send_text(json.dumps(frame))

    async def receive_line(self, line: str) -> None:
        """Start answering the request in `line`, or answer its error frame (awaited: a client sending
        bad frames is slowed down by its own reading)."""
        if not line.strip():
            return
        request = F.parse_request(line)
        if isinstance(request, dict):
            session_id, correlation_id = request.get("session_id", ""), request.get("correlation_id")
            await self._send_quietly(F.error(session_id, correlation_id, None, request["error"]))
            return
        if request.correlation_id in self.running:
            failure = f"correlation_id {request.correlation_id} is already in progress."
            await self._send_quietly(F.error(request.session_id, request.correlation_id, None, failure))
            return
        if len(self.running) >= MAX_RUNNING:
            busy = RateLimited(f"At most {MAX_RUNNING} answers at once per connection.")
            await self._send_quietly(F.error(request.session_id, request.correlation_id, None, busy))
            return
        task = asyncio.create_task(self._answer(request))
        self.running[request.correlation_id] = task
        task.add_done_callback(lambda _: self.running.pop(request.correlation_id, None))

    async def _answer(self, frame: F.ChatRequestFrame) -> None:
        question: list[int] = []

        # A send that fails (the client is gone) is not the model's failure: the receive loop sees the
        # disconnect and cancels this answer, which then records what it used.
        async def on_question(question_id: int) -> None:
            question.append(question_id)
            await self._send_quietly(F.acknowledgement(frame, question_id, self.principal.email))

        async def on_delta(piece: str) -> None:
            await self._send_quietly(F.partial(frame, question[0], piece))

        ctx = CallContext(self.principal, "/ws", "WS", unique_hex())
        try:
            request = frame.completion_request(self.state.gateway.registry.chat_model_names())
            session_id = from_public_id("chat", frame.session_id)
            answer = await self.state.completions.complete(
                ctx, session_id, request, on_delta=on_delta, on_question=on_question
            )
            await self._send_quietly(F.answer(frame, question[0], answer.message_id, answer.text))
        except AppError as exc:
            await self._send_quietly(
                F.error(frame.session_id, frame.correlation_id, question[0] if question else None, exc)
            )
        except Exception:  # never let one answer take the connection down
            log.exception("websocket answer failed")
            failure = "Internal error while answering."
            await self._send_quietly(
                F.error(frame.session_id, frame.correlation_id, question[0] if question else None, failure)
            )

    async def _send_quietly(self, frame: dict[str, Any]) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.send(frame)

    async def stop(self) -> None:
        """Cancel what is still running and wait for it to record what it used."""
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str):
        super().__init__(message, headers={"Retry-After": "1"})


async def _refuse(websocket: WebSocket, failure: AppError) -> None:
    """Refuse the handshake with the HTTP status of `failure` (the client maps it to its error), or,
    where the server cannot answer HTTP to a websocket request, close with policy violation."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        body = {"error": failure.message}
        await websocket.send_denial_response(JSONResponse(body, status_code=failure.status_code))
    else:
        await websocket.close(code=1008, reason=failure.message[:120])


@router.websocket("/ws")
async def chat_socket(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.lockgate
    current = websocket.query_params.get("currentSessionID")
    try:
        principal = await state.authenticator.authenticate(bearer_token(websocket))
        if current:
            await state.conversations.get(principal, from_public_id("chat", current))
    except AppError as exc:
        await _refuse(websocket, exc)
        return
    except Exception:  # e.g. the database is down: a 503, not a crashed handshake
        log.exception("websocket handshake failed")
        await _refuse(websocket, ServiceUnavailable("Could not check the key right now.", retry_after=1))
        return
    await websocket.accept()
    connection = Connection(websocket, state, principal)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None:
                await websocket.close(code=UNSUPPORTED_DATA, reason="Text frames only.")
                break
            for line in text.splitlines():
                await connection.receive_line(line)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await connection.stop()
