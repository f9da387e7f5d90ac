"""The one generation request inside Lockgate: what every dialect translates into (OpenAI chat and
completions, Responses, Anthropic Messages, h2oGPTe chats, grounded RAG answers) and what each provider
adapter renders its own upstream body from.

Known fields are typed; what a client sends beyond them (llama.cpp's `grammar`, `mirostat_mode`, vLLM's
`guided_json`...) rides in `extras`, passed on to providers that speak OpenAI's shapes exactly as sent.
Messages keep the same rule at their level (`lockgate.gateway.messages`): typed role, content parts,
tool calls; other keys in `extras`. `openai_body(model)` gives back the OpenAI wire body the request was
read from.

`read_chat` refuses (400 naming the field) the message shapes OpenAI refuses, tool turns that answer no
call or leave one unanswered included; whether a model reads images is the router's to say, once known
(`GenerationRequest.check_parts`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple

from lockgate.errors import BadRequest
from lockgate.gateway.messages import (
    NO_EXTRAS,
    ImagePart,
    Message,
    OtherPart,
    check_tool_turns,
    extras_of,
    read_message,
)
from lockgate.gateway.schemas import Endpoint
from lockgate.inference.messages import message_list

# Enum members read once (each `Endpoint.CHAT` is a lookup through the enum class, ~0.15 µs on 3.11).
_CHAT, _COMPLETIONS = Endpoint.CHAT, Endpoint.COMPLETIONS

# Top-level fields read into typed attributes (the rest is `extras`).
_COMMON = frozenset(
    {
        "model",
        "prompt",
        "stream",
        "stream_options",
        "n",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "seed",
        "response_format",
    }
)
_CHAT_TYPED = _COMMON | {"messages", "tools", "tool_choice"}


# -- tools, formats --------------------------------------------------------------------------------
# Each keeps `sent`, the object as the client sent it (see lockgate.gateway.messages).


@dataclass(frozen=True, slots=True)
class Tool:
    """A function tool the model may call (`parameters`: its JSON schema)."""

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    sent: Mapping[str, Any] = field(default_factory=lambda: NO_EXTRAS)

    def wire(self) -> dict[str, Any]:
        if self.sent:
            return dict(self.sent)
        function: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            function["description"] = self.description
        if self.parameters is not None:
            function["parameters"] = dict(self.parameters)
        return {"type": "function", "function": function}


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """`mode` "none", "auto", "required", or "function" with the tool's `name`."""

    mode: str
    name: str | None = None
    sent: Mapping[str, Any] = field(default_factory=lambda: NO_EXTRAS)

    def wire(self) -> str | dict[str, Any]:
        if self.name is None:
            return self.mode
        return dict(self.sent) if self.sent else {"type": "function", "function": {"name": self.name}}


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """`text`, `json_object` or `json_schema` (None when not said); `schema`: the JSON schema, if any."""

    type: str | None
    schema: Mapping[str, Any] | None = None
    sent: Mapping[str, Any] = field(default_factory=lambda: NO_EXTRAS)

    def wire(self) -> dict[str, Any]:
        if self.sent:
            return dict(self.sent)
        if self.type == "json_schema":
            return {"type": self.type, "json_schema": {"name": "answer", "schema": dict(self.schema or {})}}
        return {"type": self.type}


# -- the request -----------------------------------------------------------------------------------


class GenerationRequest(NamedTuple):
    """A chat (`messages`) or text completion (`prompt`) request for router `model`. Unset fields are
    None. `max_tokens` and `max_completion_tokens` stay apart (upstreams read one or the other).

    A NamedTuple rather than a frozen dataclass: as immutable, and built in well under half the time
    (a frozen dataclass sets each of these fields through object.__setattr__, ~1.5 µs per request)."""

    endpoint: Endpoint
    model: str
    messages: tuple[Message, ...] = ()
    prompt: str | list[Any] | None = None
    stream: bool | None = None
    stream_options: Mapping[str, Any] | None = None
    n: int | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    tools: tuple[Tool, ...] | None = None
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    extras: Mapping[str, Any] = NO_EXTRAS
    # The messages as read from a wire body: OpenAI-shaped upstreams get them as they are (no render).
    sent_messages: Sequence[Mapping[str, Any]] | None = None

    @property
    def completion_limit(self) -> int | None:
        """The completion tokens this request may use across all its choices (None: no limit set)."""
        value = self.max_completion_tokens or self.max_tokens
        return value * (self.n or 1) if value else None

    def check_parts(self, accepts_images: bool) -> None:
        """400 naming the part a model that reads text only (`accepts_images` False) cannot take."""
        if accepts_images:
            return
        for index, message in enumerate(self.messages):
            if not isinstance(message.content, tuple):
                continue
            for number, part in enumerate(message.content):
                where = f"messages[{index}].content[{number}]"
                if isinstance(part, ImagePart):
                    raise BadRequest(
                        f"{where}: this model reads text only; it cannot take an {part.type} part.",
                        param=where,
                    )
                if isinstance(part, OtherPart):
                    raise BadRequest(
                        f"{where}.type: this model reads text parts only (got {part.type!r}).", param=where
                    )

    def openai_body(self, model: str, stream: bool = False) -> dict[str, Any]:
        """The OpenAI chat/completions body for a provider's `model`: typed fields that are set, and the
        extras as sent. `stream`: streamed, always asking for the usage."""
        body: dict[str, Any] = {**self.extras, "model": model} if self.extras else {"model": model}
        if self.endpoint is _CHAT:
            sent = self.sent_messages
            body["messages"] = list(sent) if sent is not None else [m.wire() for m in self.messages]
        else:
            body["prompt"] = self.prompt
        values = _scalars(self)
        if values != _UNSET_SCALARS:
            for name, value in zip(_SCALARS, values, strict=True):
                if value is not None:
                    body[name] = value
        if stream:
            body["stream"] = True
            body["stream_options"] = {**(self.stream_options or {}), "include_usage": True}
        elif self.stream_options is not None:
            body["stream_options"] = dict(self.stream_options)
        if self.tools is not None:
            body["tools"] = [t.wire() for t in self.tools]
        if self.tool_choice is not None:
            body["tool_choice"] = self.tool_choice.wire()
        if self.response_format is not None:
            body["response_format"] = self.response_format.wire()
        return body


_SCALARS = ("stream", "n", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed")
# The scalar fields' values in one C call (a getattr per name costs twice as much on every request).
_scalars = itemgetter(*(GenerationRequest._fields.index(name) for name in _SCALARS))
_UNSET_SCALARS = (None,) * len(_SCALARS)


# -- reading the OpenAI wire body ------------------------------------------------------------------


def read_chat(body: Mapping[str, Any]) -> GenerationRequest:
    """An OpenAI chat/completions body (as a dialect has shaped it) as the typed request; 400 naming
    the field for messages, tools or tool_choice no model could take."""
    sent = message_list(body.get("messages"))
    messages = tuple([read_message(i, m) for i, m in enumerate(sent)])
    check_tool_turns(messages)
    tools = _tools(body.get("tools"))
    choice, fmt = body.get("tool_choice"), body.get("response_format")
    # Every field by position, in the class's order (mypy checks each one's type): this runs on every
    # chat request, and 19 keyword arguments cost twice as much as positions (~1 µs).
    return GenerationRequest(
        _CHAT,
        body.get("model") or "",
        messages,
        None,  # prompt
        body.get("stream"),
        body.get("stream_options"),
        body.get("n"),
        body.get("max_tokens"),
        body.get("max_completion_tokens"),
        body.get("temperature"),
        body.get("top_p"),
        body.get("stop"),
        body.get("seed"),
        tools,
        _tool_choice(choice, tools) if choice is not None else None,
        _response_format(fmt) if fmt is not None else None,
        extras_of(body, _CHAT_TYPED),
        sent,  # sent_messages
    )


def read_completion(body: Mapping[str, Any]) -> GenerationRequest:
    """An OpenAI completions body as the typed request (its fields validated by the surface)."""
    fmt = body.get("response_format")
    return GenerationRequest(
        _COMPLETIONS,
        body.get("model") or "",
        prompt=body.get("prompt"),
        stream=body.get("stream"),
        stream_options=body.get("stream_options"),
        n=body.get("n"),
        max_tokens=body.get("max_tokens"),
        max_completion_tokens=body.get("max_completion_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        stop=body.get("stop"),
        seed=body.get("seed"),
        response_format=_response_format(fmt) if fmt is not None else None,
        extras=extras_of(body, _COMMON),
    )


_JSON_TYPES = {str: "a string", list: "an array", int: "a number", float: "a number", bool: "a boolean"}


def _tools(value: Any) -> tuple[Tool, ...] | None:
    if value is None:
        return None
    tools = []
    for index, tool in enumerate(value):
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(function, dict) or not isinstance(name, str) or not name:
            raise BadRequest(f"tools[{index}].function.name: required.", param=f"tools[{index}]")
        description, parameters = function.get("description"), function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):  # OpenAI: a JSON schema object
            where = f"tools[{index}].function.parameters"
            raise BadRequest(
                f"{where}: must be an object (a JSON schema), not {_JSON_TYPES.get(type(parameters))}.",
                param=where,
            )
        tools.append(
            Tool(
                name,
                description if isinstance(description, str) else None,
                parameters,
                tool,
            )
        )
    return tuple(tools)


def _tool_choice(value: Any, tools: tuple[Tool, ...] | None) -> ToolChoice | None:
    if value is None:
        return None
    if value == "required" and not tools:
        raise BadRequest('tool_choice: "required" needs at least one tool in `tools`.', param="tool_choice")
    if isinstance(value, dict):
        function = value.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str):
            raise BadRequest(
                "tool_choice.function.name: required for a named tool choice.", param="tool_choice"
            )
        if name not in [t.name for t in tools or ()]:
            raise BadRequest(f"tool_choice: no tool named '{name}' in `tools`.", param="tool_choice")
        return ToolChoice("function", name, value)
    if value not in ("none", "auto", "required"):
        raise BadRequest(
            'tool_choice: must be "none", "auto", "required" or a named tool.', param="tool_choice"
        )
    return ToolChoice(value)


def _response_format(value: Any) -> ResponseFormat:
    if not isinstance(value, dict):
        raise BadRequest("response_format: must be an object.", param="response_format")
    kind = value.get("type")
    spec = value.get("json_schema")
    if kind == "json_schema" and not isinstance(spec, dict):
        raise BadRequest(
            "response_format.json_schema: required, an object with the schema's `name` and `schema`, "
            'when response_format.type is "json_schema".',
            param="response_format.json_schema",
        )
    schema = spec.get("schema") if isinstance(spec, dict) else value.get("schema")
    return ResponseFormat(
        kind if isinstance(kind, str) else None,
        schema if isinstance(schema, dict) else None,
        value,
    )
