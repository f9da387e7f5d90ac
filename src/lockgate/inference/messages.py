"""Chat messages as a local model's template reads them. (Their shapes are checked once, for every
surface and provider, when a request is read: `lockgate.gateway.messages`.)

`for_template` runs in the local llama.cpp engine: GGUF chat templates expect `content` to be a string,
so text parts are joined, `null` becomes "", and tool turns are rendered the way the template knows. A
template that never mentions tools gets a documented fallback: the assistant's calls as
`<tool_call>{"name": ..., "arguments": ...}</tool_call>` text, and each tool result as a user turn
`<tool_response name="...">...</tool_response>` (or a `tool` turn when the template renders any role)."""

from __future__ import annotations

import json
from typing import Any

from lockgate.errors import BadRequest


def message_list(value: Any) -> list[Any]:
    """`messages` as a non-empty list (its items unchecked). The SaaS spec (002) also allows a
    JSON-encoded string of it. BadRequest naming `messages` otherwise."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise BadRequest(
                f"messages: a string must hold a JSON array of messages ({exc}).", param="messages"
            ) from None
    if not isinstance(value, list) or not value:
        raise BadRequest("messages: must be a non-empty array of messages.", param="messages")
    return value


def parse_messages(value: Any) -> list[dict[str, Any]]:
    """`messages` as a list of objects (`message_list`, each item an object)."""
    messages = message_list(value)
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequest(f"messages[{index}]: must be an object.", param=f"messages[{index}]")
    return messages


def tool_names(tools: Any) -> list[str]:
    names = []
    for index, tool in enumerate(tools or ()):
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            raise BadRequest(f"tools[{index}].function.name: required.", param=f"tools[{index}]")
        names.append(name)
    return names


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
