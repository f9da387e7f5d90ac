"""Tool calls a local model writes as text (`tool_choice` "auto" or absent) → OpenAI `tool_calls`.

Models trained for tools (Qwen, Hermes, SmolLM3...) write each call as
`<tool_call>{"name": ..., "arguments": {...}}</tool_call>`, the markup their chat templates describe. A
template that never mentions tools (SmolLM2's) is told about them in a system turn (`with_tools_prompt`)
in that same markup, the one `messages.for_template` uses to replay earlier calls.

A block becomes a call when its JSON is an object naming a declared function, with an object (or a
JSON-encoded object) as `arguments` (or `parameters`, as Llama-style models write). Anything else — an
undeclared function, JSON that does not parse, a block cut short by max_tokens — stays in the content as
written: a client cannot run an invented call, and the text shows what the model tried. Text around the
calls is the content (null when only whitespace is left); `finish_reason` is "tool_calls" when there is a
call. Streams hold back only what may still become markup: prose goes out as it comes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from lockgate.errors import BadRequest

OPEN = "<tool_call>"
CLOSE = "</tool_call>"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One parsed call; `arguments` is JSON text, as OpenAI sends it."""

    id: str
    name: str
    arguments: str

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


Piece = str | ToolCall


def new_call_id() -> str:
    """An id in OpenAI's form: `call_` and 24 characters."""
    return f"call_{uuid.uuid4().hex[:24]}"


def with_tools_prompt(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`messages` with the tools described in the system turn (added first when there is none)."""
    signatures = "\n".join(json.dumps(tool.get("function", tool), ensure_ascii=False) for tool in tools)
    prompt = (
        "You can call functions to answer. Their signatures (JSON Schema) are between <tools></tools>:\n"
        f"<tools>\n{signatures}\n</tools>\n"
        "To call one, answer with a JSON object holding its name and arguments between "
        f"{OPEN}{CLOSE} tags:\n"
        f'{OPEN}\n{{"name": <function name>, "arguments": <arguments object>}}\n{CLOSE}\n'
        "Otherwise answer in plain text."
    )
    if messages and messages[0].get("role") == "system":
        first = messages[0]
        content = f"{first['content']}\n\n{prompt}" if first.get("content") else prompt
        return [{**first, "content": content}, *messages[1:]]
    return [{"role": "system", "content": prompt}, *messages]


def _held(text: str) -> int:
    """How many trailing characters of `text` may be the start of an opening tag."""
    for size in range(min(len(text), len(OPEN) - 1), 0, -1):
        if OPEN.startswith(text[-size:]):
            return size
    return 0


class ToolMarkup:
    """Splits one choice's generated text, fed piece by piece, into text and calls of `names`."""

    def __init__(self, names: Collection[str]):
        self.names = frozenset(names)
        self.calls = 0
        self._buffer = ""
        self._inside = False
        self._space = ""  # whitespace held back: dropped between and after calls

    def feed(self, text: str) -> list[Piece]:
        out: list[Piece] = []
        self._buffer += text
        while True:
            if not self._inside:
                at = self._buffer.find(OPEN)
                if at < 0:
                    keep = len(self._buffer) - _held(self._buffer)
                    self._text(out, self._buffer[:keep])
                    self._buffer = self._buffer[keep:]
                    return out
                self._text(out, self._buffer[:at])
                self._buffer, self._inside = self._buffer[at + len(OPEN) :], True
            else:
                at = self._buffer.find(CLOSE)
                if at < 0:
                    return out
                block, self._buffer = self._buffer[:at], self._buffer[at + len(CLOSE) :]
                self._inside = False
                self._block(out, block, closed=True)

    def finish(self) -> list[Piece]:
        """What is still held once the generation ended (an unclosed block is judged as it is)."""
        out: list[Piece] = []
        if self._inside:
            self._block(out, self._buffer, closed=False)
        else:
            self._text(out, self._buffer)
        self._buffer, self._inside = "", False
        if self._space and not self.calls:
            out.append(self._space)
        self._space = ""
        return out

    def _text(self, out: list[Piece], text: str) -> None:
        if not text:
            return
        if not text.strip():
            self._space += text
            return
        out.append(self._space + text)
        self._space = ""

    def _block(self, out: list[Piece], block: str, closed: bool) -> None:
        call = self._call_of(block)
        if call is None:
            self._text(out, OPEN + block + (CLOSE if closed else ""))
            return
        self._space = ""
        self.calls += 1
        out.append(call)

    def _call_of(self, block: str) -> ToolCall | None:
        # The model writes what the client's prompt asks for: anything unreadable stays text.
        try:
            data = json.loads(block)
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        name = data.get("name")
        if not isinstance(name, str) or name not in self.names:
            return None
        arguments = data.get("arguments", data.get("parameters", {}))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except (ValueError, RecursionError):
                return None
        if not isinstance(arguments, dict):
            return None
        return ToolCall(new_call_id(), name, json.dumps(arguments, ensure_ascii=False))


def split(text: str, names: Collection[str]) -> tuple[str | None, list[ToolCall]]:
    """A whole generated text → (content, calls); content unchanged when there is no call."""
    markup = ToolMarkup(names)
    pieces = markup.feed(text) + markup.finish()
    calls = [piece for piece in pieces if isinstance(piece, ToolCall)]
    if not calls:
        return text, []
    content = "".join(piece for piece in pieces if isinstance(piece, str)).strip()
    return content or None, calls


def answer_with_calls(answer: dict[str, Any], names: Collection[str]) -> dict[str, Any]:
    """A chat.completion whose choices' tool-call markup is turned into `tool_calls` (in place)."""
    for choice in answer.get("choices") or ():
        message = choice.get("message") or {}
        text = message.get("content")
        if not isinstance(text, str) or OPEN not in text:
            continue
        content, calls = split(text, names)
        if calls:
            message["content"] = content
            message["tool_calls"] = [call.wire() for call in calls]
            choice["finish_reason"] = "tool_calls"
    return answer


class StreamCalls:
    """Rewrites llama-cpp-python's chat chunks (one choice each, index set) so that tool-call markup
    goes out as OpenAI's `delta.tool_calls`: per call, one chunk with its id and name (arguments ""),
    then one with its arguments."""

    def __init__(self, names: Collection[str]):
        self.names = names
        self._markups: dict[int, ToolMarkup] = {}
        self._sent: dict[int, int] = {}  # calls sent per choice: the next call's index

    def rewrite(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        choices = chunk.get("choices") or []
        if len(choices) != 1:
            return [chunk]
        choice = choices[0]
        index = choice.get("index", 0)
        markup = self._markups.setdefault(index, ToolMarkup(self.names))
        delta = choice.get("delta") or {}
        text = delta.get("content")
        finish = choice.get("finish_reason")
        pieces = markup.feed(text) if isinstance(text, str) and text else []
        if finish is not None:
            pieces += markup.finish()
        if not pieces and finish is None:
            return [chunk] if set(delta) - {"content"} else []  # the role chunk; held text otherwise
        frame = {key: value for key, value in chunk.items() if key != "choices"}
        first = {key: value for key, value in delta.items() if key != "content"}  # role, once
        out = []
        for piece in pieces:
            number = self._sent.get(index, 0)
            if isinstance(piece, ToolCall):
                self._sent[index] = number + 1
            for part in _deltas(piece, number):
                out.append(_chunk(frame, index, {**first, **part}, None))
                first = {}
        if finish is not None:
            out.append(_chunk(frame, index, first, "tool_calls" if markup.calls else finish))
        return out


def _deltas(piece: Piece, number: int) -> list[dict[str, Any]]:
    """A piece as deltas: text as content; call `number` of its choice as OpenAI streams one."""
    if isinstance(piece, str):
        return [{"content": piece}]
    return [
        {
            "tool_calls": [
                {
                    "index": number,
                    "id": piece.id,
                    "type": "function",
                    "function": {"name": piece.name, "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": number, "function": {"arguments": piece.arguments}}]},
    ]


def _chunk(frame: dict[str, Any], index: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {**frame, "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]}


# -- calls forced by a grammar (tool_choice "required") -----------------------------------------


def forced_call(answer: dict[str, Any]) -> dict[str, Any]:
    """A generation constrained by the required-tool grammar → an assistant turn calling that tool."""
    choice = answer["choices"][0]
    try:
        chosen = json.loads(choice["message"]["content"] or "")
        name, arguments = chosen["name"], chosen["arguments"]
    except (ValueError, KeyError, TypeError) as exc:  # cut short by max_tokens
        raise BadRequest(
            "tool_choice: the model ran out of tokens before finishing its tool call; raise max_tokens.",
            param="max_tokens",
        ) from exc
    call = {
        "id": new_call_id(),
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }
    choice["message"] = {"role": "assistant", "content": None, "tool_calls": [call]}
    choice["finish_reason"] = "tool_calls"
    return answer


def name_once(chunk: dict[str, Any], named: set[tuple[int, int]]) -> None:
    """llama-cpp-python repeats a named tool's id, type and name in every delta of its call; OpenAI sends
    them in the call's first delta only, and clients that join deltas (the openai SDK's stream helper)
    would read the name nine times over. `named`: the (choice, call) pairs already introduced."""
    for choice in chunk.get("choices") or []:
        for call in (choice.get("delta") or {}).get("tool_calls") or []:
            key = (choice.get("index", 0), call.get("index", 0))
            if key not in named:
                named.add(key)
                continue
            call.pop("id", None)
            call.pop("type", None)
            if isinstance(call.get("function"), dict):
                call["function"].pop("name", None)


def forced_call_chunks(answer: dict[str, Any], index: int) -> list[dict[str, Any]]:
    """A whole tool-call answer as the two chunks OpenAI streams: the call, then the finish."""
    call = answer["choices"][0]["message"]["tool_calls"][0]
    frame = {
        "id": answer["id"],
        "object": "chat.completion.chunk",
        "created": answer.get("created", int(time.time())),
        "model": answer.get("model"),
    }
    delta = {"role": "assistant", "content": None, "tool_calls": [{"index": 0, **call}]}
    return [
        {**frame, "choices": [{"index": index, "delta": delta, "finish_reason": None}]},
        {**frame, "choices": [{"index": index, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
