"""The OpenAI-compatible flavors: openai, vllm and albert (Albert API / OpenGateLLM); mistral reuses
some of these handlers (tests/fakes/mistral.py)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from tests.fakes.common import (
    AbruptClose,
    Reject,
    embeddings_payload,
    is_int,
    new_id,
    now,
    openai_error,
    overlap,
    pieces,
    stopped_at,
    truncate_words,
    words,
)
from tests.fakes.server import Endpoint, FormFile

if TYPE_CHECKING:
    from tests.fakes.server import FakeUpstream, Recorded

TOOL_ARGUMENTS = '{"q": "x"}'
JSON_ANSWER = '{"answer": "ok"}'
OWNERS = {"openai": "openai", "vllm": "vllm", "mistral": "mistralai", "albert": "Albert API"}
LANGUAGES = {"en": "english", "fr": "french", "de": "german", "es": "spanish", "it": "italian"}
Event = tuple[str, dict[str, Any]]  # (kind: role | content | final | usage, SSE payload)


def endpoints(flavor: str) -> list[Endpoint]:
    eps = [
        Endpoint("GET", "/v1/models", list_models, "probe"),
        Endpoint("POST", "/v1/chat/completions", chat),
        Endpoint("POST", "/v1/completions", completions),
        Endpoint("POST", "/v1/embeddings", embeddings),
        Endpoint("POST", "/v1/audio/transcriptions", transcriptions),
    ]
    if flavor == "vllm":
        eps.append(Endpoint("GET", "/health", health, "health"))
        eps += [Endpoint("POST", path, vllm_rerank) for path in ("/v1/rerank", "/rerank", "/v2/rerank")]
    elif flavor == "albert":
        eps.append(Endpoint("POST", "/v1/rerank", albert_rerank))
    return eps


# -- errors used by the server wrapper ---------------------------------------------------------------


def failure(fake: FakeUpstream, status: int, path: str) -> Response:
    if status >= 500:
        return openai_error(status, "fake upstream failure", "server_error")
    if status == 400:
        return openai_error(400, f"This model's maximum context length is {fake.context_length} tokens.")
    if status == 429:
        return openai_error(429, "Rate limit reached for requests", "requests", code="rate_limit_exceeded")
    return openai_error(status, "fake upstream failure")


def unauthorized(path: str) -> Response:
    return openai_error(401, "Incorrect API key provided.", code="invalid_api_key")


def not_found(method: str, path: str) -> Response:
    return openai_error(404, f"Invalid URL ({method} {path})")


# -- request helpers ---------------------------------------------------------------------------------


def _body(rec: Recorded) -> dict[str, Any]:
    if not isinstance(rec.json, dict):
        raise Reject(openai_error(400, "The request body must be a JSON object."))
    return rec.json


def _check_model(fake: FakeUpstream, model: Any) -> None:
    if model != fake.model:
        raise Reject(openai_error(404, f"The model `{model}` does not exist.", code="model_not_found"))


def _check_context(fake: FakeUpstream, tokens: int) -> None:
    if tokens > fake.context_length:
        message = (
            f"This model's maximum context length is {fake.context_length} tokens. "
            f"However, your request has {tokens} input tokens. Please reduce the length of the input."
        )
        raise Reject(openai_error(400, message, code="context_length_exceeded"))


def _count(body: dict[str, Any]) -> int:
    n = body.get("n", 1)
    if n is None:
        return 1
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise Reject(openai_error(400, "'n' must be a positive integer.", param="n"))
    return n


def _content_text(content: Any) -> str:
    """Text of a message content: a string, or the text parts of a multimodal list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return " ".join(parts)
    return ""


def _answer(fake: FakeUpstream, body: dict[str, Any], source: str) -> tuple[str, str]:
    """(text, finish_reason): the fixed reply, a JSON answer or an echo, cut to max_tokens words."""
    fmt = body.get("response_format")
    if fake.reply is not None:
        text = fake.reply
    elif isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        text = JSON_ANSWER
    else:
        text = "echo: " + source
    limit = next((body[k] for k in ("max_completion_tokens", "max_tokens") if body.get(k) is not None), None)
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise Reject(openai_error(400, "max_tokens must be at least 1.", param="max_tokens"))
        if len(words(text)) > limit:
            return truncate_words(text, limit), "length"
    return text, "stop"


def _forced_tool(body: dict[str, Any]) -> str | None:
    """The function name to call when tool_choice forces one, else None."""
    tools, choice = body.get("tools"), body.get("tool_choice")
    if not isinstance(tools, list) or not tools:
        return None
    if isinstance(choice, dict):
        return str((choice.get("function") or {}).get("name"))
    if choice == "required":
        return str(tools[0].get("function", {}).get("name"))
    return None


def _include_usage(fake: FakeUpstream, body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True and fake.send_usage


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _sse(fake: FakeUpstream, events: list[Event]) -> StreamingResponse:
    """Stream `events` as SSE, honouring chunk_delay and cut_stream_after."""

    async def generate() -> AsyncIterator[str]:
        sent = 0
        for position, (kind, payload) in enumerate(events):
            cut = fake.cut_stream_after
            if cut is not None and sent >= cut and kind != "role":
                raise AbruptClose(f"cut after {sent} content chunks")  # uvicorn drops the connection
            if position:
                await fake.sleep(fake.chunk_delay)
            yield f"data: {json.dumps(payload)}\n\n"
            sent += kind == "content"
        yield "data: [DONE]\n\n"

    return StreamingResponse(
        generate(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


# -- endpoints ---------------------------------------------------------------------------------------


async def health(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    return Response(status_code=200)


async def list_models(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    item: dict[str, Any] = {
        "id": fake.model,
        "object": "model",
        "created": fake.created,
        "owned_by": OWNERS[fake.flavor],
    }
    if fake.flavor == "vllm":
        item.update(root=fake.model, parent=None, max_model_len=fake.context_length, permission=[])
    elif fake.flavor == "mistral":
        capabilities = {"completion_chat": True, "completion_fim": False, "function_calling": True}
        item.update(
            capabilities={**capabilities, "fine_tuning": False, "vision": False, "classification": False},
            name=fake.model,
            description="",
            max_context_length=fake.context_length,
            aliases=[],
            deprecation=None,
            default_model_temperature=0.3,
            type="base",
        )
    elif fake.flavor == "albert":
        item.update(max_context_length=fake.context_length, type=fake.albert_type, aliases=[])
    return JSONResponse({"object": "list", "data": [item]})


async def chat(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    body = _body(rec)
    _check_model(fake, body.get("model"))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise Reject(openai_error(400, "'messages' must be a non-empty list.", param="messages"))
    prompt = sum(len(words(m["content"])) for m in messages if isinstance(m.get("content"), str))
    _check_context(fake, prompt)
    n = _count(body)
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    tool = _forced_tool(body)
    matched: str | None = None
    if tool is None:
        text, finish = _answer(fake, body, _content_text(last_user.get("content")))
        text, finish, matched = stopped_at(body.get("stop"), text, finish)
        completion = len(words(text))
    else:
        text, finish, completion = "", "tool_calls", len(words(TOOL_ARGUMENTS))
    cid, created = new_id("chatcmpl-"), now()

    if body.get("stream"):
        with_usage = _include_usage(fake, body)

        def chunk(index: int, delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
            choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": reason}
            if fake.flavor == "vllm":  # vLLM names the stop sequence that ended the choice
                choice["stop_reason"] = matched if reason else None
            out = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": fake.model}
            out["choices"] = [choice]
            if with_usage and fake.flavor == "openai":
                out["usage"] = None  # OpenAI sends a null usage on every chunk but the last
            return out

        events: list[Event] = []
        for i in range(n):
            if tool is None:
                events.append(("role", chunk(i, {"role": "assistant", "content": ""})))
                events += [("content", chunk(i, {"content": piece})) for piece in pieces(text)]
            else:
                events.append(("role", chunk(i, {"role": "assistant", "content": None})))
                call = {"index": 0, "id": new_id("call_"), "type": "function"}
                call["function"] = {"name": tool, "arguments": ""}
                events.append(("content", chunk(i, {"tool_calls": [call]})))
                for part in ('{"q": ', '"x"}'):
                    piece = {"index": 0, "function": {"arguments": part}}
                    events.append(("content", chunk(i, {"tool_calls": [piece]})))
            events.append(("final", chunk(i, {}, finish)))
        if with_usage:
            last = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": fake.model}
            events.append(("usage", {**last, "choices": [], "usage": _usage(prompt, completion * n)}))
        return _sse(fake, events)

    choices = []
    for i in range(n):
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if tool is not None:
            function = {"name": tool, "arguments": TOOL_ARGUMENTS}
            message = {"role": "assistant", "content": None}
            message["tool_calls"] = [{"id": new_id("call_"), "type": "function", "function": function}]
        choices.append({"index": i, "message": message, "logprobs": None, "finish_reason": finish})
        if fake.flavor == "vllm":
            choices[-1]["stop_reason"] = matched
    out = {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": fake.model,
        "choices": choices,
    }
    if fake.send_usage:
        out["usage"] = _usage(prompt, completion * n)
    return JSONResponse(out)


def _prompts(value: Any) -> list[str | list[int]]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return list(value)
        if all(is_int(v) for v in value):
            return [value]
        if all(isinstance(v, list) and v and all(is_int(t) for t in v) for v in value):
            return list(value)
    raise Reject(
        openai_error(400, "'prompt' must be a string, a list of strings or token ids.", param="prompt")
    )


async def completions(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    body = _body(rec)
    _check_model(fake, body.get("model"))
    prompts = _prompts(body.get("prompt"))
    sizes = [len(p) if isinstance(p, list) else len(words(p)) for p in prompts]
    for size in sizes:
        _check_context(fake, size)
    n = _count(body)
    answers = [_answer(fake, body, p if isinstance(p, str) else " ".join(map(str, p))) for p in prompts]
    # One choice per (prompt, n): index = prompt_index * n + k.
    plan = [(j * n + k, text, finish) for j, (text, finish) in enumerate(answers) for k in range(n)]
    usage = _usage(sum(sizes), sum(len(words(text)) for _, text, _ in plan))
    cid, created = new_id("cmpl-"), now()
    head = {"id": cid, "object": "text_completion", "created": created, "model": fake.model}

    if body.get("stream"):

        def chunk(index: int, text: str, reason: str | None = None) -> dict[str, Any]:
            choice = {"index": index, "text": text, "logprobs": None, "finish_reason": reason}
            return {**head, "choices": [choice]}

        events: list[Event] = []
        for index, text, finish in plan:
            events += [("content", chunk(index, piece)) for piece in pieces(text)]
            events.append(("final", chunk(index, "", finish)))
        if _include_usage(fake, body):
            events.append(("usage", {**head, "choices": [], "usage": usage}))
        return _sse(fake, events)

    choices = [{"index": i, "text": t, "logprobs": None, "finish_reason": f} for i, t, f in plan]
    out: dict[str, Any] = {**head, "choices": choices}
    if fake.send_usage:
        out["usage"] = usage
    return JSONResponse(out)


async def embeddings(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    body = _body(rec)
    _check_model(fake, body.get("model"))
    if not fake.honour_options:
        body = {k: v for k, v in body.items() if k != "encoding_format"}
    try:
        return JSONResponse(embeddings_payload(body, fake.model, fake.embedding_dim, fake.send_usage))
    except ValueError as exc:
        raise Reject(openai_error(400, str(exc), param="input")) from exc


async def transcriptions(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    form = rec.form
    if form is None:
        raise Reject(openai_error(400, "The request must be multipart/form-data."))
    _check_model(fake, form.get("model"))
    upload = form.get("file")
    if not isinstance(upload, FormFile):
        raise Reject(openai_error(400, "'file' is a required property.", param="file"))
    text = f"transcript of {len(upload.content)} bytes"
    fmt = form.get("response_format") or "json"
    if fmt == "json":
        out: dict[str, Any] = {"text": text}
        if fake.flavor == "openai" and fake.send_usage:
            out["usage"] = {"type": "duration", "seconds": 1}
        return JSONResponse(out)
    if fmt == "text":
        return PlainTextResponse(text)
    if fmt == "srt":
        return PlainTextResponse(f"1\n00:00:00,000 --> 00:00:01,000\n{text}\n\n")
    if fmt == "vtt":
        return PlainTextResponse(f"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n{text}\n\n")
    if fmt == "verbose_json":
        language = form.get("language")
        segment = {"id": 0, "seek": 0, "start": 0.0, "end": 1.0, "text": text, "tokens": []}
        segment.update(temperature=0.0, avg_logprob=-0.1, compression_ratio=1.0, no_speech_prob=0.01)
        return JSONResponse(
            {
                "task": "transcribe",
                "language": LANGUAGES.get(language, language) if isinstance(language, str) else "english",
                "duration": 1.0,
                "text": text,
                "segments": [segment],
            }
        )
    raise Reject(openai_error(400, f"Unsupported response_format: {fmt}", param="response_format"))


def _ranked(query: str, documents: list[str]) -> list[tuple[float, int, str]]:
    """(score, index, document), best first; ties keep input order."""
    return sorted(((overlap(query, d), i, d) for i, d in enumerate(documents)), key=lambda t: (-t[0], t[1]))


def _strings(value: Any, name: str) -> list[str]:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise Reject(openai_error(400, f"'{name}' must be a non-empty list of strings.", param=name))


async def vllm_rerank(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    body = _body(rec)
    if body.get("model") is not None:
        _check_model(fake, body["model"])
    query = body.get("query")
    if not isinstance(query, str):
        raise Reject(openai_error(400, "'query' must be a string.", param="query"))
    raw = body.get("documents")
    if isinstance(raw, list):  # documents may also be {"text": ...} objects
        raw = [d.get("text") if isinstance(d, dict) else d for d in raw]
    documents = _strings(raw, "documents")
    top_n = body.get("top_n") or len(documents)
    results = [
        {"index": i, "document": {"text": d}, "relevance_score": s}
        for s, i, d in _ranked(query, documents)[:top_n]
    ]
    if not fake.honour_options:  # every document, in the order sent
        results = [
            {"index": i, "document": {"text": d}, "relevance_score": overlap(query, d)}
            for i, d in enumerate(documents)
        ]
    out: dict[str, Any] = {"id": new_id("rerank-"), "model": fake.model}
    if fake.send_usage:
        out["usage"] = {"total_tokens": sum(len(words(query)) + len(words(d)) for d in documents)}
    out["results"] = results
    return JSONResponse(out)


async def albert_rerank(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    body = _body(rec)
    _check_model(fake, body.get("model"))
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise Reject(openai_error(400, "'prompt' must be a string.", param="prompt"))
    documents = _strings(body.get("input"), "input")
    data = [{"object": "rerank", "score": s, "index": i} for s, i, _ in _ranked(prompt, documents)]
    return JSONResponse({"object": "list", "data": data})


def _document_size(ref: str) -> int:
    """Bytes of a data: URL's payload, else the length of the URL itself."""
    if ref.startswith("data:") and "," in ref:
        header, payload = ref.split(",", 1)
        if header.endswith(";base64"):
            try:
                return len(base64.b64decode(payload, validate=True))
            except binascii.Error:
                pass
        return len(payload.encode())
    return len(ref.encode())


async def ocr(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    body = _body(rec)
    _check_model(fake, body.get("model"))
    document = body.get("document")
    kind = document.get("type") if isinstance(document, dict) else None
    ref = document.get(kind) if isinstance(document, dict) and kind in ("document_url", "image_url") else None
    if isinstance(ref, dict):  # image_url may be {"url": ...}
        ref = ref.get("url")
    if not isinstance(ref, str) or not ref:
        message = "'document' must be {'type': 'document_url', 'document_url': ...} or an image_url chunk."
        raise Reject(openai_error(400, message, param="document"))
    wanted = body.get("pages")
    indices = wanted if isinstance(wanted, list) and wanted and kind == "document_url" else [0]
    pages = [
        {
            "index": i,
            "markdown": f"# Page {i + 1}\n\nText recognised by the fake OCR.",
            "images": [],
            "dimensions": {"dpi": 200, "height": 2200, "width": 1700},
        }
        for i in indices
    ]
    usage = {"pages_processed": len(pages), "doc_size_bytes": _document_size(ref)}
    return JSONResponse(
        {"pages": pages, "model": fake.model, "document_annotation": None, "usage_info": usage}
    )
