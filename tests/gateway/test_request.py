"""The typed generation request (gateway/request.py): what a dialect's OpenAI-shaped body becomes, what
OpenAI-compatible upstreams receive back from it, and the shapes it refuses with a 400 naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lockgate.errors import BadRequest
from lockgate.gateway.messages import ImagePart, Message, OtherPart, TextPart, ToolCall
from lockgate.gateway.providers.anthropic_wire import messages_request
from lockgate.gateway.request import GenerationRequest, Tool, ToolChoice, read_chat, read_completion
from lockgate.gateway.schemas import Endpoint
from lockgate.gateway.usage import estimate_prompt, estimate_tokens

WEATHER = {
    "type": "function",
    "function": {"name": "weather", "description": "Weather", "parameters": {"type": "object"}},
}
CHAT: dict[str, Any] = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?", "cache_control": {"type": "ephemeral"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
                {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"q": 1}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ],
    "temperature": 0.3,
    "max_tokens": 20,
    "n": 2,
    "stop": ["\n"],
    "stream": False,
    "tools": [WEATHER],
    "tool_choice": {"type": "function", "function": {"name": "weather"}},
    "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}},
    "mirostat_mode": 2,  # llama.cpp's own sampling field: an extra, passed on
    "guided_json": {"type": "object"},  # vLLM's
    "user": "u-1",
}


def test_a_chat_body_reads_into_typed_fields_and_renders_back_as_sent() -> None:
    request = read_chat(CHAT)
    assert request.endpoint == Endpoint.CHAT and request.model == "m"
    system, user, assistant, tool = request.messages
    assert system == Message("system", "Be brief.")
    text, image, audio = user.content  # type: ignore[misc]
    assert isinstance(text, TextPart) and text.text == "What is this?"
    assert isinstance(image, ImagePart) and image.url == "data:image/png;base64,AAAA"
    assert isinstance(audio, OtherPart) and audio.type == "input_audio"
    assert assistant.tool_calls is not None
    assert (assistant.tool_calls[0].id, assistant.tool_calls[0].name) == ("c1", "weather")
    assert tool.tool_call_id == "c1" and tool.text == "sunny"
    assert request.tools == (Tool("weather", "Weather", {"type": "object"}, WEATHER),)
    assert request.tool_choice is not None and request.tool_choice.name == "weather"
    assert request.response_format is not None and request.response_format.schema == {"type": "object"}
    assert dict(request.extras) == {"mirostat_mode": 2, "guided_json": {"type": "object"}, "user": "u-1"}
    assert request.completion_limit == 40  # max_tokens for each of the n choices

    assert request.openai_body("m") == CHAT


def test_each_sampling_field_lands_on_its_own_attribute() -> None:
    # read_chat passes the fields by position (it runs on every request): a value in the wrong slot
    # would reach the upstream under another name
    fields = {
        "stream": True,
        "stream_options": {"include_usage": True},
        "n": 3,
        "max_tokens": 11,
        "max_completion_tokens": 12,
        "temperature": 0.25,
        "top_p": 0.5,
        "stop": ["END"],
        "seed": 7,
    }
    request = read_chat({"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields})
    assert {name: getattr(request, name) for name in fields} == fields
    assert request.prompt is None and request.extras == {}
    assert request.sent_messages == [{"role": "user", "content": "hi"}]


def test_a_provider_gets_its_own_model_name_and_streams_always_report_usage() -> None:
    request = read_chat({**CHAT, "stream_options": {"include_obfuscation": False}})
    upstream = request.openai_body("upstream-model", stream=True)
    assert upstream["model"] == "upstream-model" and upstream["stream"] is True
    assert upstream["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert request.openai_body("m") == {**CHAT, "stream_options": {"include_obfuscation": False}}


def test_a_completion_body_keeps_its_prompt_and_extras() -> None:
    body = {"model": "m", "prompt": [1, 2, 3], "max_tokens": 5, "echo": True, "suffix": "!"}
    request = read_completion(body)
    assert request.endpoint == Endpoint.COMPLETIONS and request.prompt == [1, 2, 3]
    assert request.openai_body("m") == body


def test_a_request_built_inside_lockgate_renders_the_openai_shapes() -> None:
    request = GenerationRequest(
        Endpoint.CHAT,
        "m",
        messages=(
            Message("user", (TextPart("hi"), ImagePart("https://example.org/a.png"))),
            Message("assistant", None, tool_calls=(ToolCall("c1", "weather", "{}"),)),
        ),
        tools=(Tool("weather", parameters={"type": "object"}),),
        tool_choice=ToolChoice("required"),
    )
    assert request.openai_body("m") == {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": "https://example.org/a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
                ],
            },
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
        "tool_choice": "required",
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": "not json"}, "messages"),
        ({"messages": [3]}, "messages[0]"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": ""}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": 7}]}, "messages[0].content"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
            "messages[0].content[0]",
        ),
        ({"messages": [{"role": "user", "content": [{"text": "no type"}]}]}, "messages[0].content[0]"),
        (
            {
                "messages": [
                    {"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}
                ]
            },
            "messages[0].content[0]",
        ),
        ({"tools": [{"type": "function", "function": {}}]}, "tools[0]"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tool_choice": "sometimes", "tools": [WEATHER]}, "tool_choice"),
        (
            {"tool_choice": {"type": "function", "function": {"name": "other"}}, "tools": [WEATHER]},
            "tool_choice",
        ),
        ({"response_format": "json"}, "response_format"),
    ],
)
def test_shapes_no_model_can_take_are_400_naming_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequest) as refused:
        read_chat({"model": "m", "messages": [{"role": "user", "content": "hi"}], **body})
    assert refused.value.param == param


def test_a_text_only_model_refuses_images_and_other_parts_a_multimodal_one_takes_them() -> None:
    request = read_chat(CHAT)
    request.check_parts(accepts_images=True)
    with pytest.raises(BadRequest) as refused:
        request.check_parts(accepts_images=False)
    assert refused.value.param == "messages[1].content[1]"
    audio_only = read_chat(
        {
            "model": "m",
            "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
        }
    )
    with pytest.raises(BadRequest, match="text parts only"):
        audio_only.check_parts(accepts_images=False)


def test_the_anthropic_adapter_renders_its_own_body_from_the_typed_request() -> None:
    body = messages_request(read_chat({**CHAT, "n": 1, "temperature": 1.5}), "claude", stream=True)
    assert body["model"] == "claude" and body["system"] == "Be brief." and body["stream"] is True
    assert body["max_tokens"] == 20 and body["temperature"] == 1.0 and body["stop_sequences"] == ["\n"]
    user, assistant, tool_turn = body["messages"]
    assert [b["type"] for b in user["content"]] == ["text", "image"]  # audio: not something Anthropic reads
    assert user["content"][1]["source"] == {"type": "base64", "media_type": "image/png", "data": "AAAA"}
    assert assistant["content"] == [{"type": "tool_use", "id": "c1", "name": "weather", "input": {"q": 1}}]
    assert tool_turn["content"] == [{"type": "tool_result", "tool_use_id": "c1", "content": "sunny"}]
    assert body["tools"] == [
        {"name": "weather", "description": "Weather", "input_schema": {"type": "object"}}
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "weather"}
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": {"type": "object"}}}
    assert body["metadata"] == {"user_id": "u-1"}


def test_the_prompt_estimate_counts_what_an_upstream_bills_as_input() -> None:
    request = read_chat(CHAT)
    texts = ["Be brief.", "What is this?", '{"q": 1}', "sunny"]
    assert estimate_prompt(request) == sum(estimate_tokens(t) for t in texts)
    assert estimate_prompt(request) == estimate_tokens(CHAT["messages"])  # the walk over the wire body
    assert estimate_prompt(read_completion({"model": "m", "prompt": "abcdefgh"})) == 2


def _call(call_id: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": "weather", "arguments": "{}"}}


def test_parallel_calls_answered_in_any_order_and_a_custom_tool_call_read() -> None:
    messages = [
        {"role": "user", "content": "Paris and Lyon?"},
        {"role": "assistant", "content": None, "tool_calls": [_call("a"), _call("b")]},
        {"role": "tool", "tool_call_id": "b", "content": "rain"},
        {"role": "tool", "tool_call_id": "a", "content": [{"type": "text", "text": "sun"}]},
        {"role": "assistant", "content": "Sun in Paris, rain in Lyon."},
        {"role": "user", "content": "Run it."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c", "type": "custom", "custom": {"name": "shell", "input": "ls"}}],
        },
        {"role": "tool", "tool_call_id": "c", "content": "a.txt"},
    ]
    request = read_chat({"model": "m", "messages": messages})
    assert [m.tool_call_id for m in request.messages if m.role == "tool"] == ["b", "a", "c"]
    assert request.messages[6].tool_calls == (ToolCall("c", "shell", "ls", messages[6]["tool_calls"][0]),)
    assert request.openai_body("m")["messages"] == messages  # sent on as they came


def test_the_tool_turn_rule_holds_for_messages_sent_as_a_json_string() -> None:
    ok = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [_call("a")]},
        {"role": "tool", "tool_call_id": "a", "content": "sun"},
    ]
    assert len(read_chat({"model": "m", "messages": json.dumps(ok)}).messages) == 3
    missing = [*ok[:2], {"role": "tool", "content": "sun"}]
    with pytest.raises(BadRequest) as refused:
        read_chat({"model": "m", "messages": json.dumps(missing)})
    assert refused.value.param == "messages[2].tool_call_id"


def test_a_tool_that_returned_nothing_is_answered_with_empty_content() -> None:
    """Agent loops send a tool's empty output as "" (OpenAI takes it); other empty turns stay a 400."""
    asked = [
        {"role": "user", "content": "Clear the cache."},
        {"role": "assistant", "content": None, "tool_calls": [_call("a")]},
    ]
    for empty in ("", []):
        request = read_chat(
            {"model": "m", "messages": [*asked, {"role": "tool", "tool_call_id": "a", "content": empty}]}
        )
        assert request.messages[2].role == "tool" and not request.messages[2].content
    with pytest.raises(BadRequest) as refused:
        read_chat({"model": "m", "messages": [{"role": "user", "content": ""}]})
    assert refused.value.param == "messages[0].content"
