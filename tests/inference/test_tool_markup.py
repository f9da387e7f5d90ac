"""The `<tool_call>` markup parser on fixed strings: whole texts, the same texts fed in pieces (as a
stream), and the chunks a stream becomes. No model involved."""

from __future__ import annotations

import json

import pytest

from lockgate.inference.tool_calls import (
    StreamCalls,
    ToolCall,
    ToolMarkup,
    answer_with_calls,
    split,
    with_tools_prompt,
)

NAMES = ["get_weather", "get_time"]
WEATHER = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
TIME = '<tool_call>\n{"name": "get_time", "arguments": {"zone": "UTC"}}\n</tool_call>'


def test_plain_text_is_left_alone() -> None:
    assert split("Paris is sunny.", NAMES) == ("Paris is sunny.", [])
    assert split("a < b and <tool> is not a call", NAMES) == ("a < b and <tool> is not a call", [])


def test_one_call_alone_has_null_content() -> None:
    content, (call,) = split(WEATHER, NAMES)
    assert content is None
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.id.startswith("call_") and len(call.id) == 29


def test_text_around_calls_is_the_content_and_calls_keep_their_order() -> None:
    content, calls = split(f"Let me check.\n{WEATHER}\n\n{TIME}\n", NAMES)
    assert content == "Let me check."
    assert [c.name for c in calls] == ["get_weather", "get_time"]
    assert len({c.id for c in calls}) == 2


@pytest.mark.parametrize(
    "block",
    [
        '<tool_call>{"name": "launch_missiles", "arguments": {}}</tool_call>',  # not declared
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Par</tool_call>',  # invalid JSON
        '<tool_call>{"name": "get_weather", "arguments": [1, 2]}</tool_call>',  # not an object
        '<tool_call>["get_weather"]</tool_call>',
        '<tool_call>{"name": "get_weather", "arguments": "{not json"}</tool_call>',
        '<tool_call>{"name": "get_weather", "arguments": {"ci',  # cut short by max_tokens
        '<tool_call>{"name": ["get_weather"], "arguments": {}}</tool_call>',  # a name that is no string
        "<tool_call>" + "[" * 100_000 + "</tool_call>",  # deeper than json can read (RecursionError)
        '<tool_call>{"name": "get_weather", "arguments": "' + "[" * 100_000 + '"}</tool_call>',
    ],
)
def test_a_block_that_is_not_a_declared_call_stays_text_as_written(block: str) -> None:
    assert split(block, NAMES) == (block, [])
    if block.endswith("</tool_call>"):  # and a valid call after it is still a call
        content, calls = split(f"{block}\n{WEATHER}", NAMES)
        assert content == block and [c.name for c in calls] == ["get_weather"]


def test_other_spellings_models_use() -> None:
    as_string = '<tool_call>{"name": "get_time", "arguments": "{\\"zone\\": \\"CET\\"}"}</tool_call>'
    as_parameters = '<tool_call>{"name": "get_time", "parameters": {"zone": "CET"}}</tool_call>'
    no_arguments = '<tool_call>{"name": "get_time"}</tool_call>'
    unclosed = '<tool_call>{"name": "get_time", "arguments": {"zone": "CET"}}'  # stopped at end of turn
    for text, expected in [
        (as_string, {"zone": "CET"}),
        (as_parameters, {"zone": "CET"}),
        (no_arguments, {}),
        (unclosed, {"zone": "CET"}),
    ]:
        content, (call,) = split(text, NAMES)
        assert content is None and json.loads(call.arguments) == expected, text


SAMPLES = [
    "Paris is sunny.",
    WEATHER,
    f"Let me check.\n{WEATHER}\n{TIME}",
    f"{WEATHER} and then some text <tool",
    '<tool_call>{"name": "nope", "arguments": {}}</tool_call> trailing',
    "<tool_ca",
    "text <tool_call> never closed",
]


@pytest.mark.parametrize("text", SAMPLES)
@pytest.mark.parametrize("size", [1, 3, 7])
def test_fed_in_pieces_it_gives_what_the_whole_text_gives(text: str, size: int) -> None:
    markup = ToolMarkup(NAMES)
    pieces = []
    for start in range(0, len(text), size):
        pieces += markup.feed(text[start : start + size])
    pieces += markup.finish()
    whole_content, whole_calls = split(text, NAMES)
    streamed = "".join(p for p in pieces if isinstance(p, str))
    calls = [p for p in pieces if isinstance(p, ToolCall)]
    assert [(c.name, c.arguments) for c in calls] == [(c.name, c.arguments) for c in whole_calls]
    if whole_calls:
        assert streamed.strip() == (whole_content or "")
        assert "<tool_call>" not in streamed
    else:
        assert streamed == text


def _chunks(text: str, index: int = 0) -> list[dict]:
    frame = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    first = {**frame, "choices": [{"index": index, "delta": {"role": "assistant"}, "finish_reason": None}]}
    tokens = [
        {**frame, "choices": [{"index": index, "delta": {"content": text[i : i + 4]}, "finish_reason": None}]}
        for i in range(0, len(text), 4)
    ]
    last = {**frame, "choices": [{"index": index, "delta": {}, "finish_reason": "stop"}]}
    return [first, *tokens, last]


def test_a_stream_sends_calls_as_openai_tool_call_deltas() -> None:
    rewriter = StreamCalls(NAMES)
    out = [c for chunk in _chunks(f"Checking.\n{WEATHER}\n{TIME}") for c in rewriter.rewrite(chunk)]
    deltas = [c["choices"][0]["delta"] for c in out]
    assert deltas[0] == {"role": "assistant"}
    assert "".join(d.get("content") or "" for d in deltas) == "Checking.\n"
    parts = [part for d in deltas for part in d.get("tool_calls", [])]
    heads = [p for p in parts if "id" in p]
    assert [(p["index"], p["function"]["name"], p["function"]["arguments"]) for p in heads] == [
        (0, "get_weather", ""),
        (1, "get_time", ""),
    ]
    arguments = {p["index"]: p["function"]["arguments"] for p in parts if "id" not in p}
    assert json.loads(arguments[0]) == {"city": "Paris"} and json.loads(arguments[1]) == {"zone": "UTC"}
    assert out[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert all(c["id"] == "chatcmpl-1" and c["object"] == "chat.completion.chunk" for c in out)


def test_a_stream_without_calls_keeps_its_text_and_finish() -> None:
    for text in ["Just prose, a < b.", '<tool_call>{"name": "nope"}</tool_call>']:
        rewriter = StreamCalls(NAMES)
        out = [c for chunk in _chunks(text) for c in rewriter.rewrite(chunk)]
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in out) == text
        assert out[-1]["choices"][0]["finish_reason"] == "stop"


def test_each_choice_of_a_stream_numbers_its_own_calls() -> None:
    rewriter = StreamCalls(NAMES)
    out = [c for i in (0, 1) for chunk in _chunks(WEATHER, i) for c in rewriter.rewrite(chunk)]
    heads = [
        (c["choices"][0]["index"], part["index"])
        for c in out
        for part in c["choices"][0]["delta"].get("tool_calls", [])
        if "id" in part
    ]
    assert heads == [(0, 0), (1, 0)]


def test_a_whole_answer_gets_tool_calls_and_finish_reason() -> None:
    answer = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": WEATHER}, "finish_reason": "stop"},
            {"index": 1, "message": {"role": "assistant", "content": "No call."}, "finish_reason": "stop"},
        ]
    }
    first, second = answer_with_calls(answer, NAMES)["choices"]
    assert first["finish_reason"] == "tool_calls" and first["message"]["content"] is None
    assert first["message"]["tool_calls"][0]["type"] == "function"
    assert second["message"] == {"role": "assistant", "content": "No call."}
    assert second["finish_reason"] == "stop"


def test_the_tools_prompt_goes_into_the_system_turn() -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    user = {"role": "user", "content": "Hi"}
    added = with_tools_prompt([user], tools)
    assert added[0]["role"] == "system" and '"name": "get_weather"' in added[0]["content"]
    assert "<tool_call>" in added[0]["content"] and added[1] == user
    merged = with_tools_prompt([{"role": "system", "content": "Be brief."}, user], tools)
    assert len(merged) == 2 and merged[0]["content"].startswith("Be brief.\n\n")


def test_only_templates_that_never_mention_tools_get_the_tools_prompt(tmp_path) -> None:
    from lockgate.inference.llama import LlamaEngine

    engine = LlamaEngine("m", tmp_path / "m.gguf")  # not loaded: only its template matters here
    assert not engine.knows_tools  # a llama-cpp-python chat format that ignores tools
    engine.template = "{% for message in messages %}{{ message['content'] }}{% endfor %}"  # SmolLM2's kind
    assert not engine.knows_tools
    engine.template = "{% if tools %}<tools>{{ tools | tojson }}</tools>{% endif %}"  # Qwen's kind
    assert engine.knows_tools
    engine.template, engine.chat_format = None, "chatml-function-calling"
    assert engine.knows_tools
