"""A fast OpenAI-compatible upstream for benchmarks: raw ASGI, fixed answers, optional fixed delay.

python bench/fake_upstream.py PORT [DELAY_SECONDS] [STREAM_CHUNKS]
"""

from __future__ import annotations

import asyncio
import sys

import orjson
import uvicorn

MODEL = "bench-model"
ANSWER = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
)
MODELS = orjson.dumps({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "bench"}]})


def chunk(content: str | None, finish: str | None = None, usage: dict | None = None) -> bytes:
    payload = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": []
        if usage
        else [{"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish}],
    }
    if usage:
        payload["usage"] = usage
    return b"data: " + orjson.dumps(payload) + b"\n\n"


async def lifespan(receive, send) -> None:
    """Answer uvicorn's lifespan messages until shutdown (shared by the bench's raw ASGI upstreams)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


def make_app(delay: float, chunks: int):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        body = await read_body(receive)
        if scope["path"].endswith("/models"):
            await _json(send, MODELS)
            return
        if delay:
            await asyncio.sleep(delay)
        if b'"stream":true' in body.replace(b" ", b""):
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")],
                }
            )
            for _ in range(chunks):
                await send({"type": "http.response.body", "body": chunk("tok "), "more_body": True})
                if delay:
                    await asyncio.sleep(delay / 10)
            await send({"type": "http.response.body", "body": chunk(None, "stop"), "more_body": True})
            usage = {"prompt_tokens": 5, "completion_tokens": chunks, "total_tokens": 5 + chunks}
            await send({"type": "http.response.body", "body": chunk(None, usage=usage) + b"data: [DONE]\n\n"})
            return
        await _json(send, ANSWER)

    return app


async def _json(send, payload: bytes) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": payload})


if __name__ == "__main__":
    port = int(sys.argv[1])
    delay = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    chunks = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    uvicorn.run(make_app(delay, chunks), host="127.0.0.1", port=port, log_level="warning", access_log=False)
