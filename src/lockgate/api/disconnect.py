"""Work that stops when its client leaves: a synchronous upload whose caller closed the connection is
cancelled (its parse worker stopped, its transaction rolled back) instead of running on for nobody."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from starlette.requests import Request

from lockgate.errors import AppError

T = TypeVar("T")


class ClientClosedRequest(AppError):
    """The client went away before the answer (nginx's 499): logged, sent to no one."""

    status_code = 499
    code = "client_closed_request"


async def _disconnected(request: Request) -> None:
    """Returns when the client disconnects. Only for after the body was read: past its end the ASGI
    server's receive() waits for the disconnect."""
    try:
        while (await request.receive())["type"] != "http.disconnect":
            pass
    except Exception:  # cannot tell any more: never take that for a client that left
        await asyncio.Future()


async def unless_client_leaves(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """`work`'s result, or, when the client disconnects first, `work` cancelled and ClientClosedRequest
    raised. The request body must have been read already."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when this request itself is cancelled (server shutting down)
        watch.cancel()
        if not task.done():
            task.cancel()
            try:
                await task  # its cleanup (rollback, worker stopped) runs before the answer
            except asyncio.CancelledError:
                pass
            except Exception:  # failing while cancelled changes nothing for a client that left
                pass
    if task.cancelled():
        raise ClientClosedRequest(
            "The client closed the connection before the answer: what was not yet written was not written."
        )
    return task.result()
