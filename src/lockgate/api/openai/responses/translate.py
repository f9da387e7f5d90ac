"""Responses API input ⇄ the gateway's internal chat request (OpenAI chat-completions shape).

Input items become chat messages (developer → system, function_call items → an assistant turn's
tool_calls, function_call_output items → tool messages); `instructions` a leading system message;
`text.format` the chat `response_format`; function tools chat tools; `max_output_tokens` max_tokens."""

from __future__ import annotations

from typing import Any

from lockgate.api.openai.responses.schemas import (
    FileSearchTool,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionChoice,
    FunctionTool,
    InputImage,
    InputItem,
    InputText,
    MessageItem,
    Refusal,
    ResponsesRequest,
)
from lockgate.errors import BadRequest, InvalidRequest
from lockgate.gateway.messages import CHAT_MESSAGE_ERROR, ToolTurnError
from lockgate.gateway.request import GenerationRequest, read_chat
from lockgate.kit.ids import unique_hex


def items_of(body: ResponsesRequest) -> list[InputItem]:
    if isinstance(body.input, str):
        return [MessageItem(role="user", content=body.input)]
    return body.input


def _message_content(item: MessageItem, i: int) -> str | list[dict[str, Any]]:
    if isinstance(item.content, str):
        return item.content
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(item.content):
        if isinstance(part, InputText):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, Refusal):
            parts.append({"type": "text", "text": part.refusal})
        elif isinstance(part, InputImage):
            if not part.image_url:
                raise InvalidRequest(
                    f"input.{i}.content.{j}.image_url: required (file_id images are not supported).",
                    param=f"input.{i}.content.{j}.image_url",
                )
            parts.append({"type": "image_url", "image_url": {"url": part.image_url}})
    if all(p["type"] == "text" for p in parts):
        return "\n\n".join(p["text"] for p in parts)
    return parts


def chat_messages(items: list[InputItem], origins: list[int] | None = None) -> list[dict[str, Any]]:
    """Input items as chat messages, in order. `origins`, when given, gets for each message the index of
    the item it comes from (its first, for an assistant turn made of several function_call items)."""
    messages: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        made = len(messages)
        if isinstance(item, MessageItem):
            role = "system" if item.role == "developer" else item.role
            messages.append({"role": role, "content": _message_content(item, i)})
        elif isinstance(item, FunctionCallItem):
            call = {
                "id": item.call_id,
                "type": "function",
                "function": {"name": item.name, "arguments": item.arguments},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)  # calls of one turn share a message
            else:  # "" rather than null: every chat template can concatenate it
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
        elif isinstance(item, FunctionCallOutputItem):
            output = item.output if isinstance(item.output, str) else "".join(p.text for p in item.output)
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": output})
        if origins is not None and len(messages) > made:
            origins.append(i)
    return messages


def stored_items(items: list[InputItem]) -> list[dict[str, Any]]:
    """Input items as GET /v1/responses/{id}/input_items lists them: each with an id and a status."""
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, MessageItem):
            content = (
                [{"type": "input_text", "text": item.content}]
                if isinstance(item.content, str)
                else [p.model_dump(exclude_none=True) for p in item.content]
            )
            out.append(
                {
                    "id": item.id or f"msg_{unique_hex()}",
                    "type": "message",
                    "role": item.role,
                    "content": content,
                    "status": "completed",
                }
            )
        elif isinstance(item, FunctionCallItem | FunctionCallOutputItem):
            prefix = "fc" if isinstance(item, FunctionCallItem) else "fco"
            dumped = item.model_dump(exclude_none=True)
            out.append({**dumped, "id": item.id or f"{prefix}_{unique_hex()}", "status": "completed"})
    return out


def function_tools(body: ResponsesRequest) -> list[dict[str, Any]]:
    tools = []
    for tool in body.tools or ():
        if isinstance(tool, FunctionTool):
            function: dict[str, Any] = {
                "name": tool.name,
                "parameters": tool.parameters or {"type": "object"},
            }
            if tool.description:
                function["description"] = tool.description
            if tool.strict is not None:
                function["strict"] = tool.strict
            tools.append({"type": "function", "function": function})
    return tools


def file_search_tool(body: ResponsesRequest) -> FileSearchTool | None:
    return next((t for t in body.tools or () if isinstance(t, FileSearchTool)), None)


def collection_ids(tool: FileSearchTool) -> list[int]:
    """Lockgate collections are the vector stores; their ids are integers."""
    ids = []
    for i, value in enumerate(tool.vector_store_ids):
        if not value.isdigit() or int(value) > 2**31 - 1:
            raise InvalidRequest(
                f"tools.file_search.vector_store_ids.{i}: '{value}' is not a collection id.",
                param="tools.vector_store_ids",
            )
        ids.append(int(value))
    return ids


def _response_format(body: ResponsesRequest) -> dict[str, Any] | None:
    fmt = body.text.format if body.text else None
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return {"type": "json_object"}
    for name, value in (("name", fmt.name), ("schema", fmt.schema_)):
        if not value and value != {}:  # as chat's response_format.json_schema, OpenAI answers 400
            raise BadRequest(
                f'text.format.{name}: required when text.format.type is "json_schema".',
                param=f"text.format.{name}",
            )
    schema: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema_}
    if fmt.strict is not None:
        schema["strict"] = fmt.strict
    if fmt.description:
        schema["description"] = fmt.description
    return {"type": "json_schema", "json_schema": schema}


def _tool_choice(body: ResponsesRequest, tools: list[dict[str, Any]]) -> Any:
    choice = body.tool_choice
    if choice is None or not tools:
        return None
    if isinstance(choice, FunctionChoice):
        if not any(t["function"]["name"] == choice.name for t in tools):
            raise InvalidRequest(
                f"tool_choice.name: no function tool named '{choice.name}'.", param="tool_choice"
            )
        return {"type": "function", "function": {"name": choice.name}}
    if isinstance(choice, str):
        return choice
    return None  # file_search: retrieval always runs when the tool is given


def chat_request(
    body: ResponsesRequest, messages: list[dict[str, Any]], items: list[InputItem], first: int
) -> GenerationRequest:
    """The internal chat request for `messages` (instructions, grounding, history and input, in order;
    the messages of input `items` from index `first`). A 400 names the field of the Responses request."""
    payload: dict[str, Any] = {"model": body.model, "messages": messages}
    if body.max_output_tokens is not None:
        payload["max_tokens"] = body.max_output_tokens
    for name in ("temperature", "top_p"):
        if (value := getattr(body, name)) is not None:
            payload[name] = value
    if tools := function_tools(body):
        payload["tools"] = tools
        if body.parallel_tool_calls is not None:
            payload["parallel_tool_calls"] = body.parallel_tool_calls
        if (choice := _tool_choice(body, tools)) is not None:
            payload["tool_choice"] = choice
    if (fmt := _response_format(body)) is not None:
        payload["response_format"] = fmt
    if user := body.safety_identifier or body.user:
        payload["user"] = user
    try:
        return read_chat(payload)
    except ToolTurnError as error:
        raise _tool_turn_error(error, items, first) from None
    except BadRequest as error:
        raise _message_error(error, items, first) from None


def _message_error(error: BadRequest, items: list[InputItem], first: int) -> BadRequest:
    """A message refused by the chat rules (`messages[i].content: ...`) named as the input item it was
    read from: `input[k].content` (parts keep their positions); other errors as they are."""
    found = CHAT_MESSAGE_ERROR.match(error.message)
    if found is None or int(found[1]) < first:
        return error
    origins: list[int] = []
    chat_messages(items, origins)
    rest = found[2] if found[2].startswith(".content") else ""
    where = f"input[{origins[int(found[1]) - first]}]{rest}"
    return BadRequest(f"{where}: {found[3]}", param=where)


def _tool_turn_error(error: ToolTurnError, items: list[InputItem], first: int) -> BadRequest:
    """The chat rule's refusal in the Responses API's words, naming the input item the client sent (the
    item of each message is found again here, on the error path only)."""
    call_id = error.call_ids[0]
    if error.index < first:  # the previous response's calls, which this input must answer
        return BadRequest(
            f"input: no function_call_output item answers the function call {', '.join(error.call_ids)} "
            "of the previous response (previous_response_id); each needs one at the start of the input.",
            param="input",
        )
    if error.problem == ToolTurnError.UNANSWERED:
        calls = [
            n for n, it in enumerate(items) if isinstance(it, FunctionCallItem) and it.call_id == call_id
        ]
        where = f"input[{calls[0]}]" if calls else "input"
        return BadRequest(
            f"{where}: no function_call_output item answers function call {call_id!r} (each "
            "function_call item needs one after it, before the next message).",
            param=where,
        )
    origins: list[int] = []
    chat_messages(items, origins)
    k = origins[error.index - first]
    return BadRequest(
        f"input[{k}].call_id: {call_id!r} is not the call_id of a function_call item of the turn before "
        "this function_call_output item.",
        param=f"input[{k}].call_id",
    )
