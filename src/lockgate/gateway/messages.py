"""Chat messages as every dialect's request carries them: typed turns (role, content parts, tool calls)
read from the OpenAI wire shape, with OpenAI's rules for what a turn may hold (`read_message`) and for
how tool turns follow each other (`check_tool_turns`). Each part and call keeps `sent`, the object as
the client sent it: what OpenAI-shaped upstreams receive. One built inside Lockgate (no `sent`) renders
from its typed fields."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from lockgate.errors import BadRequest

NO_EXTRAS: Mapping[str, Any] = MappingProxyType({})
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# Roles whose two-key turn {"role", "content": "..."} is whole (a tool turn also needs tool_call_id).
_PLAIN_ROLES = frozenset({"system", "developer", "user", "assistant"})
TEXT_PARTS = frozenset({"text", "input_text", "output_text", "refusal"})
IMAGE_PARTS = frozenset({"image_url", "input_image"})
_MESSAGE_TYPED = frozenset({"role", "content", "name", "tool_calls", "tool_call_id"})


def extras_of(fields: Mapping[str, Any], typed: frozenset[str]) -> Mapping[str, Any]:
    """The fields not read into typed attributes, as sent (the shared empty mapping when none)."""
    if fields.keys() <= typed:
        return NO_EXTRAS
    return {k: v for k, v in fields.items() if k not in typed}


# -- content parts and tool calls ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextPart:
    """`text` (or Responses' `input_text`/`output_text`, or a `refusal`)."""

    text: str
    type: str = "text"
    sent: Mapping[str, Any] = field(default_factory=lambda: NO_EXTRAS)

    def wire(self) -> dict[str, Any]:
        return dict(self.sent) if self.sent else {"type": self.type, "text": self.text}


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image by URL (`data:` URLs included): `image_url` or Responses' `input_image`."""

    url: str | None
    type: str = "image_url"
    sent: Mapping[str, Any] = field(default_factory=lambda: NO_EXTRAS)

    def wire(self) -> dict[str, Any]:
        return dict(self.sent) if self.sent else {"type": self.type, "image_url": {"url": self.url}}


@dataclass(frozen=True, slots=True)
class OtherPart:
    """A part only a multimodal upstream judges (audio, files...), passed on as sent."""

    type: str
    sent: Mapping[str, Any] = field(default_factory=lambda: NO_EXTRAS)

    def wire(self) -> dict[str, Any]:
        return dict(self.sent) if self.sent else {"type": self.type}


ContentPart = TextPart | ImagePart | OtherPart


@dataclass(frozen=True, slots=True)
class ToolCall:
    """An assistant's call of a function tool; `arguments` as sent (a JSON text, normally). `name` is
    None for a call that names no function (passed on to upstreams, skipped by local templates)."""

    id: str | None
    name: str | None
    arguments: Any
    sent: Any = None  # the call as sent (any JSON value)

    def wire(self) -> Any:
        if self.sent is not None:
            return self.sent
        call = {"type": "function", "function": {"name": self.name, "arguments": self.arguments}}
        return {"id": self.id, **call} if self.id is not None else call


class Message(NamedTuple):
    """One chat turn. A NamedTuple, as immutable as a frozen dataclass and built in a third of the time:
    every message of every chat request becomes one."""

    role: str
    content: str | tuple[ContentPart, ...] | None
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] | None = None
    tool_call_id: str | None = None
    extras: Mapping[str, Any] = NO_EXTRAS  # other keys (`function_call`...)

    @property
    def text(self) -> str:
        """The content as one string: text parts joined by newlines, null as ""."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content if isinstance(p, TextPart))

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.extras, "role": self.role}
        if isinstance(self.content, tuple):
            out["content"] = [part.wire() for part in self.content]
        else:
            out["content"] = self.content
        if self.name is not None:
            out["name"] = self.name
        if self.tool_calls is not None:
            out["tool_calls"] = [call.wire() for call in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        return out


# -- reading the wire shape ----------------------------------------------------------------------


def read_message(index: int, message: Any) -> Message:
    """Message `index` of a chat body as the typed turn; 400 naming the field for a shape OpenAI refuses."""
    if type(message) is dict and len(message) == 2:  # the common turn, {"role": ..., "content": "..."}
        role, content = message.get("role"), message.get("content")
        if type(content) is str and content and type(role) is str and role in _PLAIN_ROLES:
            return Message(role, content)
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise BadRequest(f"{where}: must be an object.", param=where)
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:  # a list or object role is not hashable
        raise BadRequest(f"{where}.role: must be one of {', '.join(sorted(ROLES))}.", param=f"{where}.role")
    content = message.get("content")
    has_calls = bool(message.get("tool_calls") or message.get("function_call"))
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            problem = (
                "required on a tool message (the id of the tool call it answers)"
                if call_id is None
                else f"must be a non-empty string (the id of the tool call it answers), not {call_id!r}"
            )
            raise BadRequest(f"{where}.tool_call_id: {problem}.", param=f"{where}.tool_call_id")
    elif role == "function" and not isinstance(message.get("name"), str):
        raise BadRequest(
            f"{where}.name: required on a function message (the function it answers).", param=f"{where}.name"
        )
    if content is None:
        if not (role == "assistant" and has_calls):
            raise BadRequest(
                f"{where}.content: required (null only on an assistant turn with tool_calls).",
                param=f"{where}.content",
            )
    elif isinstance(content, str):
        # a tool that returned nothing is answered with "" (agent loops send it; OpenAI takes it)
        if not content and not (role == "assistant" and has_calls) and role != "tool":
            raise BadRequest(f"{where}.content: must not be empty.", param=f"{where}.content")
    elif isinstance(content, list):
        if not content and not has_calls and role != "tool":
            raise BadRequest(f"{where}.content: must not be empty.", param=f"{where}.content")
        content = tuple(_part(f"{where}.content[{n}]", role, part) for n, part in enumerate(content))
    else:
        raise BadRequest(f"{where}.content: must be a string or an array of parts.", param=f"{where}.content")
    return Message(
        role,
        content,
        name=message.get("name"),
        tool_calls=_tool_calls(where, message["tool_calls"]) if "tool_calls" in message else None,
        tool_call_id=message.get("tool_call_id"),
        extras=extras_of(message, _MESSAGE_TYPED),
    )


def _part(where: str, role: str, part: Any) -> ContentPart:
    given = part.get("type") if isinstance(part, dict) else None
    kind = given if isinstance(given, str) else None  # a list or object type is not hashable
    if kind in TEXT_PARTS:
        text = part.get("text", part.get("refusal"))
        if not isinstance(text, str):
            raise BadRequest(f"{where}.text: must be a string.", param=where)
        return TextPart(text, kind, part)
    if role != "user" and isinstance(kind, str):  # OpenAI: other roles take text (and refusal) parts only
        what = "images are" if kind in IMAGE_PARTS else f"{kind!r} parts are"
        raise BadRequest(f"{where}: {what} allowed in user messages only.", param=where)
    if kind in IMAGE_PARTS:
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return ImagePart(url if isinstance(url, str) else None, kind, part)
    if isinstance(kind, str):
        return OtherPart(kind, part)
    raise BadRequest(f"{where}.type: this model reads text parts only (got {given!r}).", param=where)


def _tool_calls(where: str, value: Any) -> tuple[ToolCall, ...] | None:
    """An assistant turn's `tool_calls` in OpenAI's shapes: each call an object with a string `id` and a
    `function` (`name`, `arguments` as a JSON text) or, for a custom tool, `custom` (`name`, `input`)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise BadRequest(f"{where}.tool_calls: must be an array of tool calls.", param=f"{where}.tool_calls")
    calls = []
    for number, call in enumerate(value):
        at = f"{where}.tool_calls[{number}]"
        if not isinstance(call, dict):
            raise BadRequest(f"{at}: must be an object.", param=at)
        call_id, kind = call.get("id"), call.get("type", "function")
        if not isinstance(call_id, str) or not call_id:
            raise BadRequest(f"{at}.id: required (a string the tool message answers).", param=f"{at}.id")
        if kind not in ("function", "custom"):
            raise BadRequest(f'{at}.type: must be "function" or "custom".', param=f"{at}.type")
        inner, text = ("function", "arguments") if kind == "function" else ("custom", "input")
        spec = call.get(inner)
        name = spec.get("name") if isinstance(spec, dict) else None
        if not isinstance(name, str) or not name:
            raise BadRequest(f"{at}.{inner}.name: required.", param=f"{at}.{inner}.name")
        arguments = spec.get(text) if isinstance(spec, dict) else None
        if not isinstance(arguments, str):
            raise BadRequest(f"{at}.{inner}.{text}: must be a string.", param=f"{at}.{inner}.{text}")
        calls.append(ToolCall(call_id, name, arguments, call))
    return tuple(calls)


# A refusal of `read_message`, as worded for chat: the message's index, the field under it, the problem.
CHAT_MESSAGE_ERROR = re.compile(r"messages\[(\d+)\](\S*): (.*)", re.S)


class ToolTurnError(BadRequest):
    """`check_tool_turns`' refusal, worded in chat's fields, with where it is so that a surface whose
    messages were translated (Responses items, Anthropic blocks) names its own field instead:
    `problem` NO_CALLS (tool message `index` follows no assistant turn with calls), UNKNOWN_CALL (tool
    message `index` answers `call_ids[0]`, no call of assistant message `owner`) or UNANSWERED
    (assistant message `index` = `owner` has calls `call_ids` no tool message answers)."""

    NO_CALLS, UNKNOWN_CALL, UNANSWERED = "no_calls", "unknown_call", "unanswered"

    def __init__(self, problem: str, index: int, owner: int, call_ids: tuple[str, ...]):
        self.problem, self.index, self.owner, self.call_ids = problem, index, owner, call_ids
        where = f"messages[{index}]"
        if problem == self.NO_CALLS:
            message, param = (
                f"{where}.role: a tool message must answer a tool call of the assistant message "
                "before it, and no assistant message with tool_calls precedes it.",
                f"{where}.role",
            )
        elif problem == self.UNKNOWN_CALL:
            message, param = (
                f"{where}.tool_call_id: '{call_ids[0]}' is not the id of a tool call of the "
                f"assistant message before it (messages[{owner}]).",
                f"{where}.tool_call_id",
            )
        else:
            message, param = (
                f"{where}.tool_calls: an assistant message with tool_calls must be followed by tool "
                f"messages answering each call; none answers {', '.join(call_ids)}.",
                f"{where}.tool_calls",
            )
        super().__init__(message, param=param)


def check_tool_turns(messages: Sequence[Message]) -> None:
    """OpenAI's rule for tool turns: a `tool` message answers, by `tool_call_id`, a call of the assistant
    message just before it (other tool messages between them), and an assistant message's tool calls are
    each answered by the tool messages that follow it. ToolTurnError (a BadRequest) otherwise."""
    calls: frozenset[str] | None = None  # ids of the assistant turn the following tool messages answer
    unanswered: set[str] = set()
    owner = 0
    for index, message in enumerate(messages):
        if message.role == "tool":
            call_id = message.tool_call_id or ""
            if calls is None:
                raise ToolTurnError(ToolTurnError.NO_CALLS, index, owner, (call_id,))
            if call_id not in calls:
                raise ToolTurnError(ToolTurnError.UNKNOWN_CALL, index, owner, (call_id,))
            unanswered.discard(call_id)
            continue
        if unanswered:
            break
        calls = None
        if message.role == "assistant" and message.tool_calls:
            ids = [call.id for call in message.tool_calls if call.id is not None]
            calls, unanswered, owner = frozenset(ids), set(ids), index
    if unanswered:
        raise ToolTurnError(ToolTurnError.UNANSWERED, owner, owner, tuple(sorted(unanswered)))
