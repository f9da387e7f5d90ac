"""Mistral's API (La Plateforme): /v1/models, /v1/chat/completions, /v1/embeddings, /v1/ocr,
/v1/audio/transcriptions.

Strict like the real one: a field it does not know (`stream_options`, `seed`, `logprobs`...) is refused
with 422 in its FastAPI shape {"object": "error", "message": {"detail": [...]}, "type": ...}. Streams
carry the usage on the last chunk, unasked. A chat message may carry audio as
{"type": "input_audio", "input_audio": "<base64>"}: the fake answers a transcript of it.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from tests.fakes import openai_like
from tests.fakes.common import Reject, embeddings_payload, new_id, now, pieces, words
from tests.fakes.server import Endpoint

if TYPE_CHECKING:
    from starlette.requests import Request

    from tests.fakes.server import FakeUpstream, Recorded

CHAT_FIELDS = {
    "model",
    "messages",
    "temperature",
    "top_p",
    "max_tokens",
    "stream",
    "stop",
    "random_seed",
    "response_format",
    "tools",
    "tool_choice",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "prediction",
    "parallel_tool_calls",
    "prompt_mode",
    "safe_prompt",
}
EMBEDDING_FIELDS = {"model", "input", "output_dimension", "output_dtype", "encoding_format"}
PART_TYPES = {"text", "image_url", "input_audio", "document_url", "reference", "file", "thinking"}

failure = openai_like.failure
unauthorized = openai_like.unauthorized


def not_found(method: str, path: str) -> Response:
    return JSONResponse({"detail": "Not Found"}, status_code=404)


def endpoints(flavor: str) -> list[Endpoint]:
    return [
        Endpoint("GET", "/v1/models", openai_like.list_models, "probe"),
        Endpoint("POST", "/v1/chat/completions", chat),
        Endpoint("POST", "/v1/embeddings", embeddings),
        Endpoint("POST", "/v1/ocr", openai_like.ocr),
        Endpoint("POST", "/v1/audio/transcriptions", openai_like.transcriptions),  # Voxtral's own route
    ]


def _unprocessable(errors: list[dict[str, Any]]) -> Reject:
    body = {"object": "error", "message": {"detail": errors}, "type": "invalid_request_error"}
    return Reject(JSONResponse({**body, "param": None, "code": None}, status_code=422))


def _strict(body: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _unprocessable(
            [{"type": "model_attributes_type", "loc": ["body"], "msg": "Input should be an object"}]
        )
    extra = [
        {
            "type": "extra_forbidden",
            "loc": ["body", key],
            "msg": "Extra inputs are not permitted",
            "input": body[key],
        }
        for key in body
        if key not in allowed
    ]
    if extra:
        raise _unprocessable(extra)
    return body


def _audio(messages: list[Any]) -> bytes | None:
    """The audio of the last message that has one; 422 for unknown part types or bad base64."""
    audio = None
    for position, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        for index, part in enumerate(content if isinstance(content, list) else []):
            kind = part.get("type") if isinstance(part, dict) else None
            loc = ["body", "messages", position, "content", index]
            if kind not in PART_TYPES:
                raise _unprocessable(
                    [{"type": "union_tag_invalid", "loc": loc, "msg": f"Unknown chunk type {kind!r}"}]
                )
            if kind == "input_audio":
                try:
                    audio = base64.b64decode(part.get("input_audio") or "", validate=True)
                except (binascii.Error, TypeError) as exc:
                    raise _unprocessable(
                        [{"type": "value_error", "loc": loc, "msg": "Invalid base64 audio"}]
                    ) from exc
    return audio


async def chat(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    body = _strict(rec.json, CHAT_FIELDS)
    openai_like._check_model(fake, body.get("model"))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _unprocessable([{"type": "missing", "loc": ["body", "messages"], "msg": "Field required"}])
    audio = _audio(messages)
    if audio is not None:
        text = fake.reply or f"transcript of {len(audio)} bytes of audio"
        finish = "stop"
    else:
        last_user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
        text, finish = openai_like._answer(fake, body, openai_like._content_text(last_user.get("content")))
    prompt = sum(len(words(m["content"])) for m in messages if isinstance(m.get("content"), str))
    usage = openai_like._usage(prompt, len(words(text)))
    cid, created = new_id(""), now()
    head = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": fake.model}
    if body.get("stream"):
        events = [
            ("role", {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
        ]
        for piece in pieces(text):
            events.append(("content", {**head, "choices": [{"index": 0, "delta": {"content": piece}}]}))
        last = {**head, "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": finish}]}
        events.append(("final", {**last, "usage": usage} if fake.send_usage else last))
        return openai_like._sse(fake, events)
    message = {"role": "assistant", "content": text, "tool_calls": None, "prefix": False}
    out = {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": fake.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if fake.send_usage:
        out["usage"] = usage
    return JSONResponse(out)


async def embeddings(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    body = _strict(rec.json, EMBEDDING_FIELDS)
    openai_like._check_model(fake, body.get("model"))
    if not isinstance(body.get("input"), str | list) or any(
        not isinstance(i, str) for i in body.get("input") or [""]
    ):
        raise _unprocessable(
            [{"type": "string_type", "loc": ["body", "input"], "msg": "Input should be text"}]
        )
    request_body = {"input": body["input"], "dimensions": body.get("output_dimension")}
    request_body["encoding_format"] = body.get("encoding_format")
    try:
        payload = embeddings_payload(request_body, fake.model, fake.embedding_dim, True)
    except ValueError as exc:
        raise _unprocessable([{"type": "value_error", "loc": ["body"], "msg": str(exc)}]) from exc
    return JSONResponse({"id": new_id(""), **payload})
