"""Anthropic's Messages API: GET /v1/models, POST /v1/messages (JSON and SSE stream), x-api-key auth,
errors as {"type": "error", "error": {"type", "message"}}. Deterministic like the other flavors: the answer
echoes the last user text ("echo: ..."), a forced tool (tool_choice any/tool) is called with {"q": "x"},
tokens are whitespace words."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from tests.fakes.common import AbruptClose, Reject, new_id, pieces, stopped_at, truncate_words, words
from tests.fakes.server import Endpoint

if TYPE_CHECKING:
    from tests.fakes.server import FakeUpstream, Recorded

API_VERSION = "2023-06-01"
TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
}
TYPES.update({500: "api_error", 529: "overloaded_error"})


def endpoints(flavor: str) -> list[Endpoint]:
    return [
        Endpoint("GET", "/v1/models", list_models, "probe"),
        Endpoint("POST", "/v1/messages", messages),
        Endpoint("POST", "/v1/messages/count_tokens", count_tokens),
    ]


def error(status: int, message: str) -> JSONResponse:
    kind = TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": new_id("req_")}
    return JSONResponse(body, status_code=status)


def failure(fake: FakeUpstream, status: int, path: str) -> Response:
    return error(status, "fake upstream failure")


def unauthorized(path: str) -> Response:
    return error(401, "invalid x-api-key")


def not_found(method: str, path: str) -> Response:
    return error(404, f"Not found: {method} {path}")


def authorized(fake: FakeUpstream, request: Request) -> bool:
    return (
        request.headers.get("x-api-key") == fake.api_key
        and request.headers.get("anthropic-version") == API_VERSION
    )


async def list_models(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    model = {
        "id": fake.model,
        "type": "model",
        "display_name": fake.model,
        "created_at": "2026-01-01T00:00:00Z",
    }
    return JSONResponse({"data": [model], "has_more": False, "first_id": fake.model, "last_id": fake.model})


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(
        b.get("text", "") for b in content or () if isinstance(b, dict) and b.get("type") == "text"
    )


def _check(fake: FakeUpstream, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Reject(error(400, "The request body must be a JSON object."))
    if body.get("model") != fake.model:
        raise Reject(error(404, f"model: {body.get('model')}"))
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        raise Reject(error(400, "max_tokens: Field required"))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or messages[0].get("role") != "user":
        raise Reject(error(400, "messages: the first message must use the user role"))
    for previous, current in itertools.pairwise(messages):
        if previous.get("role") == current.get("role"):
            raise Reject(error(400, "messages: roles must alternate between user and assistant"))
    return body


def _forced_tool(body: dict[str, Any]) -> str | None:
    choice, tools = body.get("tool_choice") or {}, body.get("tools") or []
    if choice.get("type") == "tool":
        return str(choice.get("name"))
    if choice.get("type") == "any" and tools:
        return str(tools[0].get("name"))
    return None


def _prompt_tokens(body: dict[str, Any]) -> int:
    prompt = len(words(body["system"] if isinstance(body.get("system"), str) else ""))
    return prompt + sum(len(words(_text(m.get("content")))) for m in body["messages"])


async def count_tokens(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    body = rec.json
    if not isinstance(body, dict) or "max_tokens" in body or "stream" in body:
        raise Reject(error(400, "count_tokens: unexpected fields"))
    return JSONResponse({"input_tokens": _prompt_tokens(_check(fake, {**body, "max_tokens": 1}))})


async def messages(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    body = _check(fake, rec.json)
    prompt = _prompt_tokens(body)
    user = next(m for m in reversed(body["messages"]) if m.get("role") == "user")
    tool = _forced_tool(body)
    text = fake.reply if fake.reply is not None else "echo: " + _text(user.get("content"))
    stop = "end_turn"
    text, _, matched = stopped_at(body.get("stop_sequences"), text, stop)
    if matched is not None:
        stop = "stop_sequence"
    if tool is None and len(words(text)) > body["max_tokens"]:
        text, stop, matched = truncate_words(text, body["max_tokens"]), "max_tokens", None
    if tool is not None:
        text, stop, matched = "", "tool_use", None
    output = len(words(text)) if tool is None else 2
    message_id = new_id("msg_")
    usage = {"input_tokens": prompt, "output_tokens": output}
    if body.get("stream"):
        return _stream(fake, message_id, text, tool, (stop, matched), usage)
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if tool is None else []
    if tool is not None:
        content.append({"type": "tool_use", "id": new_id("toolu_"), "name": tool, "input": {"q": "x"}})
    message = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": fake.model,
        "content": content,
    }
    message.update(stop_reason=stop, stop_sequence=matched, usage=usage)
    return JSONResponse(message)


def _stream(
    fake: FakeUpstream,
    message_id: str,
    text: str,
    tool: str | None,
    ending: tuple[str, str | None],
    usage: dict,
) -> Response:
    stop, matched = ending
    start = {"id": message_id, "type": "message", "role": "assistant", "model": fake.model, "content": []}
    start.update(
        stop_reason=None,
        stop_sequence=None,
        usage={"input_tokens": usage["input_tokens"], "output_tokens": 1},
    )
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"message": start}), ("ping", {})]
    if tool is None:
        events.append(("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
        for piece in pieces(text):
            events.append(
                ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
            )
    else:
        block = {"type": "tool_use", "id": new_id("toolu_"), "name": tool, "input": {}}
        events.append(("content_block_start", {"index": 0, "content_block": block}))
        for part in ('{"q": ', '"x"}'):
            events.append(
                (
                    "content_block_delta",
                    {"index": 0, "delta": {"type": "input_json_delta", "partial_json": part}},
                )
            )
    events.append(("content_block_stop", {"index": 0}))
    delta = {
        "delta": {"stop_reason": stop, "stop_sequence": matched},
        "usage": {"output_tokens": usage["output_tokens"]},
    }
    events += [("message_delta", delta), ("message_stop", {})]

    async def generate() -> AsyncIterator[str]:
        for position, (name, data) in enumerate(events):
            cut = fake.cut_stream_after
            if cut is not None and position >= cut + 2:
                raise AbruptClose(f"cut after {position} events")
            if position:
                await fake.sleep(fake.chunk_delay)
            yield f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

    return StreamingResponse(
        generate(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )
