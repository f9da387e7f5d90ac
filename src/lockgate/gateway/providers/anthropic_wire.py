"""OpenAI chat request ⇄ Anthropic Messages wire format, for the `anthropic` provider type.

Request: system messages → `system`; tool messages → user `tool_result` blocks; assistant tool calls →
`tool_use` blocks; image_url parts → image blocks; tools/tool_choice, stop, sampling, response_format
json_schema → `output_config.format`. Answer and stream events → chat completion and chunk payloads."""

from __future__ import annotations

import time
from typing import Any

import orjson

from lockgate.errors import UpstreamRejected
from lockgate.gateway.messages import ImagePart, Message, TextPart, ToolCall
from lockgate.gateway.request import GenerationRequest, ToolChoice

# Anthropic requires max_tokens; OpenAI callers may leave it out.
DEFAULT_MAX_TOKENS = 4096
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str | None:
    return FINISH_REASONS.get(stop_reason, "stop") if stop_reason else None


def stop_sequence(message: dict[str, Any]) -> dict[str, str]:
    """The stop sequence that ended a message (or message_delta), as vLLM names it on a chat choice:
    `stop_reason`; nothing when none did."""
    found = message.get("stop_sequence")
    return {"stop_reason": found} if message.get("stop_reason") == "stop_sequence" and found else {}


def _image(url: str) -> dict[str, Any]:
    if url.startswith("data:") and ";base64," in url:
        media_type, data = url[5:].split(";base64,", 1)
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(message: Message) -> list[dict[str, Any]]:
    content = message.content
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for part in content or ():
        if isinstance(part, TextPart) and part.type == "text" and part.text:
            blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart) and part.type == "image_url" and part.url:
            blocks.append(_image(part.url))
    return blocks


def _text(message: Message) -> str:
    """Text of a system or tool turn: its text parts joined by blank lines."""
    if isinstance(message.content, str):
        return message.content
    parts = message.content or ()
    return "\n\n".join(p.text for p in parts if isinstance(p, TextPart) and p.type == "text")


def _append(messages: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Anthropic wants alternating turns: consecutive same-role turns are merged."""
    if not blocks:
        return
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"].extend(blocks)
    else:
        messages.append({"role": role, "content": blocks})


def _tool_use(call: ToolCall) -> dict[str, Any]:
    try:
        arguments = orjson.loads(call.arguments or "{}")
    except (orjson.JSONDecodeError, TypeError):
        arguments = {"arguments": call.arguments}
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": arguments}


def _messages(chat: tuple[Message, ...]) -> tuple[str, list[dict[str, Any]]]:
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for message in chat:
        role = message.role
        if role in ("system", "developer"):
            system.append(_text(message))
        elif role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": str(message.tool_call_id or ""),
                "content": _text(message),
            }
            _append(messages, "user", [result])
        elif role == "assistant":
            blocks = _blocks(message)
            blocks += [_tool_use(call) for call in message.tool_calls or () if call.sent is None or call.name]
            _append(messages, "assistant", blocks)
        else:
            _append(messages, "user", _blocks(message))
    return "\n\n".join(s for s in system if s), messages


def _tool_choice(choice: ToolChoice | None, parallel: Any) -> dict[str, Any] | None:
    if choice is not None and choice.name is not None:
        out: dict[str, Any] = {"type": "tool", "name": choice.name}
    elif choice is not None and choice.mode in ("auto", "none"):
        out = {"type": choice.mode}
    elif choice is not None and choice.mode == "required":
        out = {"type": "any"}
    elif parallel is False:
        out = {"type": "auto"}
    else:
        return None
    if parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


def messages_request(request: GenerationRequest, model: str, stream: bool = False) -> dict[str, Any]:
    """The Anthropic request for a chat request to the provider's `model`."""
    if (request.n or 1) != 1:
        raise UpstreamRejected(400, "n: Anthropic models return one choice per request.", param="n")
    system, messages = _messages(request.messages)
    extras = request.extras
    out: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "max_tokens": request.max_completion_tokens or request.max_tokens or DEFAULT_MAX_TOKENS,
    }
    if system:
        out["system"] = system
    if request.temperature is not None:
        out["temperature"] = min(float(request.temperature), 1.0)  # Anthropic's range is 0..1
    if request.top_p is not None:
        out["top_p"] = request.top_p
    if extras.get("top_k") is not None:
        out["top_k"] = extras["top_k"]
    if stop := request.stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if tools := request.tools:
        out["tools"] = [
            {
                "name": t.name,
                **({"description": t.description} if t.description else {}),
                "input_schema": t.parameters or {"type": "object"},
            }
            for t in tools
            if not t.sent or t.sent.get("type") == "function"
        ]
        if (choice := _tool_choice(request.tool_choice, extras.get("parallel_tool_calls"))) is not None:
            out["tool_choice"] = choice
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_schema":
        out["output_config"] = {"format": {"type": "json_schema", "schema": fmt.schema or {"type": "object"}}}
    if user := extras.get("user"):
        out["metadata"] = {"user_id": str(user)[:256]}
    if stream:
        out["stream"] = True
    return out


def chat_usage(usage: dict[str, Any]) -> dict[str, int]:
    prompt = sum(
        int(usage.get(k) or 0)
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    completion = int(usage.get("output_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def chat_completion(message: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic `message` as an OpenAI chat completion."""
    blocks = message.get("content") or []
    text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    calls = [
        {
            "id": b.get("id"),
            "type": "function",
            "function": {"name": b.get("name"), "arguments": orjson.dumps(b.get("input") or {}).decode()},
        }
        for b in blocks
        if b.get("type") == "tool_use"
    ]
    reply: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        reply["tool_calls"] = calls
    return {
        "id": message.get("id"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": message.get("model"),
        "choices": [
            {
                "index": 0,
                "message": reply,
                "finish_reason": finish_reason(message.get("stop_reason")),
                **stop_sequence(message),
            }
        ],
        "usage": chat_usage(message.get("usage") or {}),
    }


class ChunkTranslator:
    """Anthropic stream events → OpenAI chat.completion.chunk payloads (and the final usage)."""

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created = int(time.time())
        self.usage: dict[str, Any] = {}
        self.tools: dict[int, int] = {}  # content block index → tool call index

    def _chunk(
        self, delta: dict[str, Any], finish: str | None = None, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, **(extra or {})}
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
        }

    def chunk(self, event: dict[str, Any]) -> dict[str, Any] | None:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self.id, self.model = message.get("id", ""), message.get("model", "")
            self.usage.update(message.get("usage") or {})
            return self._chunk({"role": "assistant", "content": ""})
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = self.tools.setdefault(int(event.get("index", 0)), len(self.tools))
                call = {"index": index, "id": block.get("id"), "type": "function"}
                call["function"] = {"name": block.get("name"), "arguments": ""}
                return self._chunk({"tool_calls": [call]})
            return None
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                return self._chunk({"content": delta.get("text", "")})
            if delta.get("type") == "input_json_delta":
                index = self.tools.get(int(event.get("index", 0)), 0)
                piece = {"index": index, "function": {"arguments": delta.get("partial_json", "")}}
                return self._chunk({"tool_calls": [piece]})
            return None
        if kind == "message_delta":
            self.usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
            delta = event.get("delta") or {}
            return self._chunk({}, finish_reason(delta.get("stop_reason")), stop_sequence(delta))
        return None
