"""Chat messages: the one place their shapes are checked and turned into what a model's template reads.

`check_chat` runs in the gateway for every surface (OpenAI chat, Responses, Messages, h2oGPTe chats, RAG)
and every provider: it refuses what no model can take (unknown roles, empty content, a part a text-only
model cannot read, `tool_choice: "required"` without tools) with a 400 naming the field. Remote
providers then receive the messages as sent (they speak OpenAI's shapes).

`for_template` runs in the local llama.cpp engine: GGUF chat templates expect `content` to be a string,
so text parts are joined, `null` becomes "", and tool turns are rendered the way the template knows. A
template that never mentions tools gets a documented fallback: the assistant's calls as
`<tool_call>{"name": ..., "arguments": ...}</tool_call>` text, and each tool result as a user turn
`<tool_response name="...">...</tool_response>` (or a `tool` turn when the template renders any role)."""

from __future__ import annotations

import json
from typing import Any

from lockgate.errors import BadRequest

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_TEXT_PARTS = frozenset({"text", "input_text", "output_text", "refusal"})
_IMAGE_PARTS = frozenset({"image_url", "input_image"})


def parse_messages(value: Any) -> list[dict[str, Any]]:
    """`messages` as a list of objects. The SaaS spec (002) also allows a JSON-encoded string of it."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise BadRequest(
                f"messages: a string must hold a JSON array of messages ({exc}).", param="messages"
            ) from None
    if not isinstance(value, list) or not value:
        raise BadRequest("messages: must be a non-empty array of messages.", param="messages")
    for index, message in enumerate(value):
        if not isinstance(message, dict):
            raise BadRequest(f"messages[{index}]: must be an object.", param=f"messages[{index}]")
    return value


def check_chat(body: dict[str, Any], accepts_images: bool) -> None:
    """Refuse (400 naming the field) a chat request no model could answer. Does not change `body`."""
    messages = parse_messages(body.get("messages"))
    for index, message in enumerate(messages):
        _check_message(index, message, accepts_images)
    choice = body.get("tool_choice")
    tools = body.get("tools")
    if choice == "required" and not tools:
        raise BadRequest('tool_choice: "required" needs at least one tool in `tools`.', param="tool_choice")
    if isinstance(choice, dict):
        name = (
            (choice.get("function") or {}).get("name") if isinstance(choice.get("function"), dict) else None
        )
        if not isinstance(name, str):
            raise BadRequest(
                "tool_choice.function.name: required for a named tool choice.", param="tool_choice"
            )
        if name not in tool_names(tools):
            raise BadRequest(f"tool_choice: no tool named '{name}' in `tools`.", param="tool_choice")
    elif choice is not None and choice not in ("none", "auto", "required"):
        raise BadRequest(
            'tool_choice: must be "none", "auto", "required" or a named tool.', param="tool_choice"
        )


def tool_names(tools: Any) -> list[str]:
    names = []
    for index, tool in enumerate(tools or ()):
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            raise BadRequest(f"tools[{index}].function.name: required.", param=f"tools[{index}]")
        names.append(name)
    return names


def _check_message(index: int, message: dict[str, Any], accepts_images: bool) -> None:
    where = f"messages[{index}]"
    role = message.get("role")
    if role not in ROLES:
        raise BadRequest(f"{where}.role: must be one of {', '.join(sorted(ROLES))}.", param=f"{where}.role")
    content = message.get("content")
    calls = message.get("tool_calls") or message.get("function_call")
    if content is None:
        if role == "assistant" and calls:
            return
        raise BadRequest(
            f"{where}.content: required (null only on an assistant turn with tool_calls).",
            param=f"{where}.content",
        )
    if isinstance(content, str):
        if not content and not (role == "assistant" and calls):
            raise BadRequest(f"{where}.content: must not be empty.", param=f"{where}.content")
        return
    if not isinstance(content, list):
        raise BadRequest(f"{where}.content: must be a string or an array of parts.", param=f"{where}.content")
    if not content and not calls:
        raise BadRequest(f"{where}.content: must not be empty.", param=f"{where}.content")
    for number, part in enumerate(content):
        field = f"{where}.content[{number}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PARTS:
            if not isinstance(part.get("text", part.get("refusal")), str):
                raise BadRequest(f"{field}.text: must be a string.", param=field)
        elif kind in _IMAGE_PARTS:
            if role != "user":
                raise BadRequest(f"{field}: images are allowed in user messages only.", param=field)
            if not accepts_images:
                raise BadRequest(
                    f"{field}: this model reads text only; it cannot take an {kind} part.", param=field
                )
        elif accepts_images and isinstance(kind, str):
            continue  # a multimodal upstream judges its own part types (audio, files...)
        else:
            raise BadRequest(f"{field}.type: this model reads text parts only (got {kind!r}).", param=field)


# -- local templates ------------------------------------------------------------------------------


def text_of(content: Any) -> str:
    """A message's content as one string: text parts joined by newlines, null as ""."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(
        str(part.get("text", part.get("refusal", ""))) for part in content if isinstance(part, dict)
    )


def for_template(messages: list[dict[str, Any]], template: str | None) -> list[dict[str, Any]]:
    """Messages as a GGUF chat template (or a llama-cpp-python chat format when `template` is None)
    reads them: string contents, tool turns in the template's own terms or the fallback above."""
    knows_tools = template is not None and "tool_calls" in template
    any_role = template is not None and "raise_exception" not in template
    rendered = []
    for message in messages:
        role = "system" if message.get("role") == "developer" else message.get("role")
        out: dict[str, Any] = {"role": role, "content": text_of(message.get("content"))}
        if message.get("name"):
            out["name"] = message["name"]
        calls = _calls(message)
        if role == "assistant" and calls:
            if knows_tools:
                out["tool_calls"] = [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c["arguments"]},
                    }
                    for c in calls
                ]
            else:
                text = "\n".join(
                    f"<tool_call>{json.dumps({'name': c['name'], 'arguments': c['arguments']})}</tool_call>"
                    for c in calls
                )
                out["content"] = f"{out['content']}\n{text}" if out["content"] else text
        elif role in ("tool", "function"):
            name = message.get("name") or message.get("tool_call_id") or "tool"
            if knows_tools or (any_role and role == "tool"):
                out["role"] = "tool"
                if message.get("tool_call_id"):
                    out["tool_call_id"] = message["tool_call_id"]
            else:
                out = {
                    "role": "user",
                    "content": f'<tool_response name="{name}">\n{out["content"]}\n</tool_response>',
                }
        rendered.append(out)
    return rendered


def _calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    """An assistant turn's tool calls (or legacy function_call), arguments parsed when they are JSON."""
    raw = message.get("tool_calls") or (
        [{"function": message["function_call"]}] if message.get("function_call") else []
    )
    calls = []
    for number, call in enumerate(raw if isinstance(raw, list) else []):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                pass
        calls.append(
            {"id": call.get("id") or f"call_{number}", "name": function.get("name"), "arguments": arguments}
        )
    return calls
