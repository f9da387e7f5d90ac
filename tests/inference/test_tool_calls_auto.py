"""`tool_choice: "auto"` on the real local model (SmolLM2, llama.cpp) through the official `openai`
client: the model's `<tool_call>` markup comes back as `message.tool_calls`, never as content.

A 135M model rarely decides to call a tool on its own, so the parse path is made deterministic with a
llama.cpp `grammar` (extra_body) that forces the exact markup a tool-trained model writes; the free case
asserts structure only (a call of a declared tool, or prose without markup)."""

from __future__ import annotations

import json

import openai
import pytest

from lockgate.inference.tool_calls import split

CHAT = "smollm2-135m-instruct"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather of a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def forcing(text: str) -> dict:
    """extra_body: a GBNF grammar whose only sentence is `text`."""
    return {"grammar": "root ::= " + json.dumps(text)}


CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'


def create(local, **fields):
    body = {"model": CHAT, "messages": ASK, "tools": [WEATHER], "max_tokens": 60, "temperature": 0}
    return local.openai().chat.completions.create(**{**body, **fields})


@pytest.mark.parametrize("choice", [None, "auto"])
def test_a_call_in_markup_comes_back_as_tool_calls(local, choice) -> None:
    fields = {"tool_choice": choice} if choice else {}
    answer = create(local, extra_body=forcing(CALL), **fields)
    choice_ = answer.choices[0]
    assert choice_.finish_reason == "tool_calls" and choice_.message.content is None
    (call,) = choice_.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}


def test_prose_before_a_call_is_the_content(local) -> None:
    answer = create(local, extra_body=forcing("Checking. " + CALL))
    message = answer.choices[0].message
    assert message.content == "Checking." and message.tool_calls[0].function.name == "get_weather"


def test_a_streamed_call_arrives_as_tool_call_deltas_the_sdk_assembles(local) -> None:
    stream = create(local, stream=True, extra_body=forcing("Checking. " + CALL))
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "<tool_call" not in content and content.strip() == "Checking."
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    deltas = [d for c in chunks if c.choices for d in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id.startswith("call_") and deltas[0].function.name == "get_weather"
    arguments = "".join(d.function.arguments or "" for d in deltas if d.index == 0)
    assert json.loads(arguments) == {"city": "Paris"}
    # the SDK's own stream helper assembles the same call
    with local.openai().chat.completions.stream(
        model=CHAT, messages=ASK, tools=[WEATHER], max_tokens=60, extra_body=forcing(CALL)
    ) as helper:
        final = helper.get_final_completion()
    (call,) = final.choices[0].message.tool_calls
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>{"name": "launch", "arguments": {}}</tool_call>',  # a function nobody declared
        '<tool_call>{"name": "get_weather", "arguments": {"city": }</tool_call>',  # not JSON
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_markup_that_is_no_declared_call_stays_text(local, text, stream) -> None:
    if stream:
        chunks = list(create(local, stream=True, extra_body=forcing(text)))
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert not any(c.choices[0].delta.tool_calls for c in chunks if c.choices)
        finish = chunks[-1].choices[0].finish_reason
    else:
        choice = create(local, extra_body=forcing(text)).choices[0]
        content, finish = choice.message.content, choice.finish_reason
        assert choice.message.tool_calls is None
    assert content == text and finish == "stop"


def test_tool_choice_none_leaves_markup_as_text(local) -> None:
    choice = create(local, tool_choice="none", extra_body=forcing(CALL)).choices[0]
    assert choice.message.content == CALL and choice.message.tool_calls is None


@pytest.mark.parametrize("stream", [False, True])
def test_a_free_answer_is_a_declared_call_or_prose_without_markup(local, stream) -> None:
    if stream:
        chunks = list(create(local, stream=True, temperature=0.8))
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        names = [
            d.function.name
            for c in chunks
            if c.choices
            for d in (c.choices[0].delta.tool_calls or [])
            if d.function and d.function.name
        ]
    else:
        message = create(local, temperature=0.8).choices[0].message
        content = message.content or ""
        names = [call.function.name for call in message.tool_calls or []]
    assert set(names) <= {"get_weather"}
    assert split(content, ["get_weather"])[1] == []  # a declared call is never left in the content


def test_the_round_trip_answers_after_the_tool_result(local) -> None:
    first = create(local, extra_body=forcing(CALL)).choices[0].message
    messages = [
        *ASK,
        first.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": '{"celsius": 18}'},
    ]
    answer = local.openai().chat.completions.create(
        model=CHAT, messages=messages, tools=[WEATHER], max_tokens=30, temperature=0
    )
    message = answer.choices[0].message
    assert message.role == "assistant" and answer.usage.prompt_tokens > 0
    assert split(message.content or "", ["get_weather"])[1] == []
    streamed = local.openai().chat.completions.create(
        model=CHAT, messages=messages, tools=[WEATHER], max_tokens=30, stream=True
    )
    assert list(streamed)[-1].choices[0].finish_reason in {"stop", "length", "tool_calls"}


def test_an_invalid_grammar_beside_tools_is_still_a_400(local) -> None:
    with pytest.raises(openai.BadRequestError, match="grammar"):
        create(local, extra_body={"grammar": "root ::= ("})
