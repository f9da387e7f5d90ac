"""Requests OpenAI refuses are refused here too, with a 400/422 whose `param` is the field of the client's
own request and a message that says what is wrong with it (no internal type names); the same rule on
every surface names each surface's field. The server answers /health after each."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from tests.gateway.conftest import model, provider
from tests.helpers import MASTER_KEY, bearer

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def stack(fake, lockgate):
    upstream = fake("vllm", "up-chat")
    embedder = fake("vllm", "up-embed")
    live = lockgate(
        models=[
            model("chat", "text-generation", provider(upstream)),
            model("embed", "text-embeddings-inference", provider(embedder)),
        ]
    )
    return live, upstream


def _refused(error: openai.APIStatusError, status: int, param: str) -> str:
    assert error.status_code == status, error.body
    assert error.body["param"] == param, error.body
    message: str = error.body["message"]
    assert message.startswith(f"{param}: "), message
    return message


def _still_up(live) -> None:
    assert live.admin.get("/health").status_code == 200


@pytest.mark.parametrize("parameters", ["{}", [{"type": "object"}], 7], ids=["string", "list", "number"])
def test_chat_tool_parameters_must_be_an_object(stack, parameters) -> None:
    live, upstream = stack
    tool = {"type": "function", "function": {"name": "weather", "parameters": parameters}}
    with pytest.raises(openai.BadRequestError) as refused:
        live.openai().chat.completions.create(model="chat", messages=HI, tools=[tool])
    assert "object" in _refused(refused.value, 400, "tools[0].function.parameters")
    assert upstream.calls("/v1/chat/completions") == []
    _still_up(live)


def test_chat_json_schema_format_needs_its_schema(stack) -> None:
    live, upstream = stack
    with pytest.raises(openai.BadRequestError) as refused:
        live.openai().chat.completions.create(
            model="chat", messages=HI, response_format={"type": "json_schema"}
        )
    _refused(refused.value, 400, "response_format.json_schema")
    assert upstream.calls("/v1/chat/completions") == []
    _still_up(live)


def test_chat_takes_more_than_four_stop_sequences(stack) -> None:
    """OpenAI allows 4; llama-cpp-python's server (a spec Lockgate serves) sets no limit: kept."""
    live, upstream = stack
    stop = ["a1", "b2", "c3", "d4", "e5", "f6"]
    live.openai().chat.completions.create(model="chat", messages=HI, stop=stop)
    assert upstream.calls("/v1/chat/completions")[-1].json["stop"] == stop


@pytest.mark.parametrize(
    ("tool", "param"),
    [
        ({"type": "function", "name": "weather", "parameters": "{}"}, "tools.0.parameters"),
        ({"type": "function", "name": "weather", "parameters": [1]}, "tools.0.parameters"),
    ],
)
def test_responses_tool_parameters_must_be_an_object(stack, tool, param) -> None:
    live, upstream = stack
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        live.openai().responses.create(model="chat", input="hi", tools=[tool])
    _refused(refused.value, 422, param)
    assert upstream.calls("/v1/chat/completions") == []
    _still_up(live)


@pytest.mark.parametrize(
    ("fmt", "param"),
    [
        ({"type": "json_schema", "name": "reply"}, "text.format.schema"),
        ({"type": "json_schema", "schema": {"type": "object"}}, "text.format.name"),
    ],
)
def test_responses_json_schema_format_needs_name_and_schema(stack, fmt, param) -> None:
    live, _ = stack
    with pytest.raises(openai.BadRequestError) as refused:
        live.openai().responses.create(model="chat", input="hi", text={"format": fmt})
    _refused(refused.value, 400, param)
    _still_up(live)


def test_a_tool_call_id_that_is_not_a_string_says_so(stack) -> None:
    live, _ = stack
    called = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "7", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    messages = [*HI, called, {"role": "tool", "tool_call_id": 7, "content": "18 C"}]
    with pytest.raises(openai.BadRequestError) as refused:
        live.openai().chat.completions.create(model="chat", messages=messages)
    message = _refused(refused.value, 400, "messages[2].tool_call_id")
    assert "string" in message and "required" not in message
    _still_up(live)


@pytest.mark.parametrize("empty", [[], ""], ids=["list", "string"])
def test_empty_embeddings_input_names_input(stack, empty) -> None:
    live, _ = stack
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        live.openai().embeddings.create(model="embed", input=empty)
    message = _refused(refused.value, 422, "input")
    assert "empty" in message and "constrained" not in message
    _still_up(live)


TOO_MANY = 1e30


def test_a_token_count_out_of_range_is_one_rule_naming_each_surfaces_field(stack) -> None:
    live, _ = stack
    client = live.openai()
    messages = []
    with pytest.raises(openai.UnprocessableEntityError) as chat:
        client.chat.completions.create(model="chat", messages=HI, max_tokens=TOO_MANY)  # type: ignore[arg-type]
    messages.append(_refused(chat.value, 422, "max_tokens").removeprefix("max_tokens: "))
    with pytest.raises(openai.UnprocessableEntityError) as responses:
        client.responses.create(model="chat", input="hi", max_output_tokens=TOO_MANY)  # type: ignore[arg-type]
    messages.append(_refused(responses.value, 422, "max_output_tokens").removeprefix("max_output_tokens: "))
    with pytest.raises(anthropic.BadRequestError) as messages_api:
        live.anthropic().messages.create(model="chat", messages=HI, max_tokens=TOO_MANY, timeout=300)  # type: ignore[arg-type]
    error = messages_api.value.body["error"]
    assert error["type"] == "invalid_request_error" and error["message"].startswith("max_tokens: ")
    messages.append(error["message"].removeprefix("max_tokens: "))
    assert len(set(messages)) == 1, messages  # the same rule, said the same way
    raw = httpx.post(
        f"{live.url}/v1/chat/completions",
        headers=bearer(MASTER_KEY),
        json={"model": "chat", "messages": HI, "max_completion_tokens": 0},
    )
    assert (
        raw.status_code == 422 and raw.json()["error"]["message"] == f"max_completion_tokens: {messages[0]}"
    )
    _still_up(live)


def test_a_wrong_type_inside_a_tagged_item_names_the_field_not_the_tag(stack) -> None:
    """pydantic puts the union member's tag (the item's `type`) in the error location: not a field."""
    live, _ = stack
    output = {"type": "function_call_output", "call_id": 7, "output": "18 C"}
    with pytest.raises(openai.UnprocessableEntityError) as responses:
        live.openai().responses.create(model="chat", input=[*HI, output])  # type: ignore[list-item]
    _refused(responses.value, 422, "input.1.call_id")
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": 7, "content": "18 C"}]}
    with pytest.raises(anthropic.BadRequestError) as messages_api:
        live.anthropic().messages.create(model="chat", max_tokens=5, messages=[result])  # type: ignore[list-item]
    assert messages_api.value.body["error"]["message"].startswith("messages.0.content.0.tool_use_id: ")
    _still_up(live)
