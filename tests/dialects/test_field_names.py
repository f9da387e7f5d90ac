"""A 4xx names the field of the client's OWN request, in its own vocabulary: the chat rules for tool
turns (one place, lockgate.gateway.messages) reached through the Responses API name `input[N]` items and
through Anthropic Messages name `messages.N.content.M` blocks; and the server answers /health after."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.gateway.conftest import model, provider

ASK = {"role": "user", "content": "weather in Paris?"}


@pytest.fixture
def live(fake, lockgate):
    upstream = fake("vllm", "up-chat")
    return lockgate(models=[model("chat", "text-generation", provider(upstream))])


def _still_up(live) -> None:
    assert live.admin.get("/health").status_code == 200


def _call(call_id: str) -> dict:
    return {"type": "function_call", "call_id": call_id, "name": "weather", "arguments": "{}"}


def _output(call_id: str) -> dict:
    return {"type": "function_call_output", "call_id": call_id, "output": "18 C"}


@pytest.mark.parametrize(
    ("items", "param"),
    [
        ([ASK, _output("call_1")], "input[1].call_id"),  # answers no call
        ([ASK, _call("call_1"), _output("call_9")], "input[2].call_id"),  # answers another call
        ([ASK, _call("call_1"), _call("call_2"), _output("call_2"), ASK], "input[1]"),  # one unanswered
        ([ASK, _call("call_1"), ASK, _output("call_1")], "input[1]"),  # a message before the output
    ],
    ids=["no-call", "unknown-call", "unanswered", "interrupted"],
)
def test_responses_tool_turns_name_the_input_item(live, items, param) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        live.openai().responses.create(model="chat", input=items)
    assert refused.value.status_code == 400
    assert refused.value.body["param"] == param
    message = refused.value.body["message"]
    assert message.startswith(f"{param}:")
    assert "messages[" not in message and "tool_call_id" not in message
    _still_up(live)


def _use(call_id: str) -> dict:
    return {"type": "tool_use", "id": call_id, "name": "weather", "input": {}}


def _result(call_id: str) -> dict:
    return {"type": "tool_result", "tool_use_id": call_id, "content": "18 C"}


def _text(text: str) -> dict:
    return {"type": "text", "text": text}


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        (
            [ASK, {"role": "user", "content": [_text("and"), _result("toolu_1")]}],
            "messages.1.content.1.tool_use_id",
        ),
        (
            [
                ASK,
                {"role": "assistant", "content": [_text("let me see"), _use("toolu_1")]},
                {"role": "user", "content": [_result("toolu_1"), _result("toolu_9")]},
            ],
            "messages.2.content.1.tool_use_id",
        ),
        (
            [
                ASK,
                {"role": "assistant", "content": [_use("toolu_1"), _use("toolu_2")]},
                {"role": "user", "content": [_result("toolu_1"), _text("hurry")]},
            ],
            "messages.1.content.1",
        ),
    ],
    ids=["no-call", "unknown-call", "unanswered"],
)
def test_anthropic_tool_turns_name_the_block(live, messages, field) -> None:
    with pytest.raises(anthropic.BadRequestError) as refused:
        live.anthropic().messages.create(model="chat", max_tokens=20, messages=messages)
    error = refused.value.body["error"]
    assert refused.value.status_code == 400 and error["type"] == "invalid_request_error"
    assert error["message"].startswith(f"{field}:")
    assert "messages[" not in error["message"] and "tool_call_id" not in error["message"]
    _still_up(live)


def test_responses_message_refusals_name_the_input_item(live) -> None:
    """The chat rules for a turn's content (one place) name the item it was read from."""
    cases = [
        ([{"role": "user", "content": ""}], "input[0].content"),
        (
            [
                ASK,
                {"role": "assistant", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]},
            ],
            "input[1].content[0]",
        ),
    ]
    for items, param in cases:
        with pytest.raises(openai.BadRequestError) as refused:
            live.openai().responses.create(model="chat", input=items)
        assert refused.value.body["param"] == param
        assert refused.value.body["message"].startswith(f"{param}: ")
    _still_up(live)


def test_anthropic_message_refusals_name_the_message_and_block(live) -> None:
    cases = [
        ([{"role": "user", "content": ""}], "messages.0.content"),
        ([ASK, {"role": "assistant", "content": []}, ASK], "messages.1.content"),
    ]
    for messages, field in cases:
        with pytest.raises(anthropic.BadRequestError) as refused:
            live.anthropic().messages.create(model="chat", max_tokens=20, messages=messages)
        assert refused.value.body["error"]["message"].startswith(f"{field}: "), refused.value.body
    _still_up(live)
