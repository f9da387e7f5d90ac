"""Anthropic Messages ⇄ the gateway's internal chat request (OpenAI chat-completions shape).

Request: `system` becomes a system message, `tool_use` blocks assistant tool calls, `tool_result` blocks
tool messages, `tools`/`tool_choice` function tools. Answer: the chat completion becomes a `message`
with text and `tool_use` content blocks, Anthropic's stop reason and usage."""

from __future__ import annotations

import re
from typing import Any

import orjson

from lockgate.accounting.schemas import Usage
from lockgate.api.anthropic.schemas import (
    CountTokensRequest,
    ImageBlock,
    MessageParam,
    MessagesRequest,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
)
from lockgate.errors import BadRequest
from lockgate.gateway.messages import CHAT_MESSAGE_ERROR, ToolTurnError
from lockgate.gateway.request import GenerationRequest, read_chat
from lockgate.gateway.schemas import Generation

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def stop_reason(finish_reason: str | None) -> str:
    return STOP_REASONS.get(finish_reason or "stop", "end_turn")


def stopped(choice: dict[str, Any], stop_sequences: list[str] | None) -> dict[str, Any]:
    """`stop_reason` and `stop_sequence` of a finished choice. The matched sequence is the choice's
    `stop_reason` (vLLM's field, which Lockgate's engines and the anthropic provider set too); an
    upstream that does not name it leaves a natural `end_turn`."""
    matched = choice.get("stop_reason")
    finish = choice.get("finish_reason")
    if finish == "stop" and isinstance(matched, str) and matched in (stop_sequences or ()):
        return {"stop_reason": "stop_sequence", "stop_sequence": matched}
    return {"stop_reason": stop_reason(finish), "stop_sequence": None}


def _image_part(block: ImageBlock, field: str) -> dict[str, Any]:
    source = block.source
    if source.type == "base64":
        if not source.data or not source.media_type:
            raise BadRequest(f"{field}.source: base64 images need media_type and data.", param=field)
        url = f"data:{source.media_type};base64,{source.data}"
    else:
        if not source.url:
            raise BadRequest(f"{field}.source.url: required for url images.", param=field)
        url = source.url
    return {"type": "image_url", "image_url": {"url": url}}


def _content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Plain text when there is only text (every engine reads it), content parts otherwise."""
    if all(p["type"] == "text" for p in parts):
        return "\n\n".join(p["text"] for p in parts)
    return parts


def _tool_result(block: ToolResultBlock, field: str) -> dict[str, Any]:
    if block.content is None or isinstance(block.content, str):
        text = block.content or ""
    else:
        pieces = []
        for j, part in enumerate(block.content):
            if not isinstance(part, TextBlock):
                raise BadRequest(
                    f"{field}.content.{j}: only text tool results are supported.", param=f"{field}.content"
                )
            pieces.append(part.text)
        text = "\n\n".join(pieces)
    if block.is_error:
        text = f"Error: {text}"
    return {"role": "tool", "tool_call_id": block.tool_use_id, "content": text}


def _turn(message: MessageParam, i: int) -> list[tuple[dict[str, Any], int | None]]:
    """Message `i` as chat messages, each with the block it comes from (None: the whole turn)."""
    if isinstance(message.content, str):
        return [({"role": message.role, "content": message.content}, None)]
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    results: list[tuple[dict[str, Any], int | None]] = []
    for j, block in enumerate(message.content):
        field = f"messages.{i}.content.{j}"
        if isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            if message.role != "user":
                raise BadRequest(f"{field}: images belong in user turns.", param=field)
            parts.append(_image_part(block, field))
        elif isinstance(block, ToolUseBlock):
            if message.role != "assistant":
                raise BadRequest(f"{field}: tool_use blocks belong in assistant turns.", param=field)
            try:
                arguments = orjson.dumps(block.input).decode()
            except orjson.JSONEncodeError as error:  # e.g. an integer past 64 bits
                raise BadRequest(f"{field}.input: {error}.", param=f"{field}.input") from None
            calls.append(
                {"id": block.id, "type": "function", "function": {"name": block.name, "arguments": arguments}}
            )
        else:
            if message.role != "user":
                raise BadRequest(f"{field}: tool_result blocks belong in user turns.", param=field)
            results.append((_tool_result(block, field), j))
    if message.role == "assistant":
        # "" rather than null beside tool calls: every chat template can concatenate it
        turn: dict[str, Any] = {"role": "assistant", "content": _content(parts) if parts else ""}
        if calls:
            turn["tool_calls"] = calls
        return [(turn, None)]
    # Tool results answer the previous assistant turn's calls: they come first.
    return [*results, *([({"role": "user", "content": _content(parts)}, None)] if parts else [])]


def chat_messages(
    body: CountTokensRequest, origins: list[tuple[int, int | None]] | None = None
) -> list[dict[str, Any]]:
    """The chat messages of a Messages request. `origins`, when given, gets for each one the index of
    the Anthropic message and block it comes from (-1 for `system`; block None: the whole turn)."""
    messages: list[dict[str, Any]] = []
    if body.system:
        system = body.system if isinstance(body.system, str) else "\n\n".join(b.text for b in body.system)
        messages.append({"role": "system", "content": system})
        if origins is not None:
            origins.append((-1, None))
    for i, message in enumerate(body.messages):
        for turn, block in _turn(message, i):
            messages.append(turn)
            if origins is not None:
                origins.append((i, block))
    if not any(m["role"] != "system" for m in messages):
        raise BadRequest("messages: at least one message needs content.", param="messages")
    return messages


def chat_tools(body: CountTokensRequest) -> list[dict[str, Any]] | None:
    if not body.tools:
        return None
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                **({"description": tool.description} if tool.description else {}),
                "parameters": tool.input_schema,
            },
        }
        for tool in body.tools
    ]


def _tool_choice(body: MessagesRequest, payload: dict[str, Any]) -> None:
    choice = body.tool_choice
    if choice is None:
        return
    if choice.type == "tool":
        if not choice.name:
            raise BadRequest(
                "tool_choice.name: required when tool_choice.type is 'tool'.", param="tool_choice"
            )
        if not any(t.name == choice.name for t in body.tools or ()):
            raise BadRequest(f"tool_choice.name: no tool named '{choice.name}'.", param="tool_choice")
        payload["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    else:
        payload["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[choice.type]
    if choice.disable_parallel_tool_use and body.tools:
        payload["parallel_tool_calls"] = False


def chat_request(body: MessagesRequest) -> GenerationRequest:
    """The internal chat request for a Messages request (400 naming the field when it cannot be)."""
    payload: dict[str, Any] = {
        "model": body.model,
        "messages": chat_messages(body),
        "max_tokens": body.max_tokens,
    }
    for name, value in (("temperature", body.temperature), ("top_p", body.top_p), ("top_k", body.top_k)):
        if value is not None:
            payload[name] = value
    if body.stop_sequences:
        payload["stop"] = body.stop_sequences
    if tools := chat_tools(body):
        payload["tools"] = tools
    _tool_choice(body, payload)
    if body.output_config and body.output_config.format:
        schema = {"name": "output", "schema": body.output_config.format.schema_}
        payload["response_format"] = {"type": "json_schema", "json_schema": schema}
    if body.metadata and body.metadata.user_id:
        payload["user"] = body.metadata.user_id
    try:
        return read_chat(payload)
    except ToolTurnError as error:
        raise _tool_turn_error(body, error) from None
    except BadRequest as error:
        raise _message_error(body, error) from None


def _message_error(body: MessagesRequest, error: BadRequest) -> BadRequest:
    """A message refused by the chat rules (`messages[i].content[n]: ...`) named as the Anthropic message
    and block it was read from (`messages.i.content.j`); other errors as they are."""
    found = CHAT_MESSAGE_ERROR.match(error.message)
    if found is None:
        return error
    origins: list[tuple[int, int | None]] = []
    chat_messages(body, origins)
    i, block = origins[int(found[1])]
    if i < 0:
        return BadRequest(f"system: {found[3]}", param="system")
    where = f"messages.{i}"
    if block is not None:
        where += f".content.{block}"
    elif found[2].startswith(".content"):
        where += ".content"
        content = body.messages[i].content
        part = re.match(r"\.content\[(\d+)\]", found[2])
        if part is not None and not isinstance(content, str):
            # part n of the chat message: the n-th text or image block (tool blocks are not parts)
            parts = [j for j, b in enumerate(content) if isinstance(b, TextBlock | ImageBlock)]
            n = int(part[1])
            where += f".{parts[n]}" if n < len(parts) else ""
    return BadRequest(f"{where}: {found[3]}", param=where)


def _tool_turn_error(body: MessagesRequest, error: ToolTurnError) -> BadRequest:
    """The chat rule's refusal in Anthropic's words, naming the block the client sent (the mapping is
    rebuilt here, on the error path only)."""
    origins: list[tuple[int, int | None]] = []
    chat_messages(body, origins)
    i, j = origins[error.index]
    call_id = error.call_ids[0]
    if error.problem == ToolTurnError.UNANSWERED:
        blocks = body.messages[i].content  # the assistant turn: a list, as it holds tool_use blocks
        uses = [n for n, b in enumerate(blocks) if isinstance(b, ToolUseBlock) and b.id == call_id]
        where = f"messages.{i}.content.{uses[0] if uses else 0}"
        return BadRequest(
            f"{where}: tool_use ids were found without tool_result blocks immediately after: "
            f"{', '.join(error.call_ids)}. Each tool_use block must have a corresponding tool_result "
            "block in the next message.",
            param=where,
        )
    where = f"messages.{i}.content.{j}.tool_use_id"
    return BadRequest(
        f"{where}: unexpected tool_use_id found in tool_result blocks: {call_id}. Each tool_result block "
        "must have a corresponding tool_use block in the previous message.",
        param=where,
    )


def tool_input(arguments: str | None) -> dict[str, Any]:
    """Tool arguments as Anthropic's `input` object. A model that wrote something else than a JSON
    object gets it kept under "arguments" rather than lost."""
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {"arguments": arguments}
    return value if isinstance(value, dict) else {"arguments": value}


def anthropic_usage(usage: Usage) -> dict[str, int]:
    return {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens}


def message(generation: Generation, message_id: str, stop_sequences: list[str] | None) -> dict[str, Any]:
    """A chat completion as Anthropic's `message` object."""
    answer = generation.answer
    choice = (answer.get("choices") or [{}])[0]
    reply = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if reply.get("content"):
        content.append({"type": "text", "text": reply["content"]})
    for call in reply.get("tool_calls") or ():
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{message_id}_{len(content)}",
                "name": function.get("name", ""),
                "input": tool_input(function.get("arguments")),
            }
        )
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": answer.get("model"),
        "content": content,
        **stopped(choice, stop_sequences),
        "usage": anthropic_usage(generation.usage),
    }
