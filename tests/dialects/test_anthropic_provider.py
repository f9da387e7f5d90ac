"""The `anthropic` provider type: a model served by Anthropic's Messages API (a fake speaking its wire
format, x-api-key auth) behind every surface — chat completions, /v1/messages and /v1/responses."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.gateway.conftest import model, provider
from tests.helpers import MASTER_KEY, bearer

TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


@pytest.fixture
def stack(fake, lockgate):
    upstream = fake("anthropic", "claude-up", api_key="sk-ant-secret")
    live = lockgate(models=[model("claude", "text-generation", provider(upstream))])
    return live, upstream


def test_chat_completions_through_anthropic(stack) -> None:
    live, upstream = stack
    answer = live.openai().chat.completions.create(
        model="claude",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}],
        max_tokens=30,
        stop=["END"],
        temperature=1.5,
        user="u-1",
    )
    assert answer.choices[0].message.content == "echo: hello there"
    assert answer.choices[0].finish_reason == "stop" and answer.model == "claude"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (4, 3)
    sent = upstream.calls("/v1/messages")[-1]
    assert sent.headers["x-api-key"] == "sk-ant-secret" and "authorization" not in sent.headers
    assert sent.json["system"] == "Be brief." and sent.json["model"] == "claude-up"
    assert sent.json["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}]
    assert (sent.json["max_tokens"], sent.json["stop_sequences"], sent.json["temperature"]) == (
        30,
        ["END"],
        1.0,
    )
    assert sent.json["metadata"] == {"user_id": "u-1"}


def test_max_tokens_default_and_length_finish(stack) -> None:
    live, upstream = stack
    client = live.openai()
    client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
    assert upstream.calls("/v1/messages")[-1].json["max_tokens"] == 4096  # Anthropic requires one
    cut = client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "one two three"}], max_tokens=2
    )
    assert cut.choices[0].finish_reason == "length"


def test_chat_stream_through_anthropic(stack) -> None:
    live, _ = stack
    chunks = list(
        live.openai().chat.completions.create(
            model="claude",
            messages=[{"role": "user", "content": "one two three"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three"
    assert chunks[-1].usage.completion_tokens == 4 and chunks[-1].usage.prompt_tokens == 3


def test_tool_calls_both_ways(stack) -> None:
    live, upstream = stack
    client = live.openai()
    first = client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "find x"}], tools=TOOLS, tool_choice="required"
    )
    call = first.choices[0].message.tool_calls[0]
    assert (call.function.name, call.function.arguments, first.choices[0].finish_reason) == (
        "lookup",
        '{"q":"x"}',
        "tool_calls",
    )
    assert upstream.calls("/v1/messages")[-1].json["tool_choice"] == {"type": "any"}
    client.chat.completions.create(
        model="claude",
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "find x"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "x = 42"},
        ],
    )
    sent = upstream.calls("/v1/messages")[-1].json["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": call.id, "name": "lookup", "input": {"q": "x"}}],
    }
    assert sent[2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "x = 42"}],
    }
    streamed = list(
        client.chat.completions.create(
            model="claude",
            messages=[{"role": "user", "content": "find x"}],
            tools=TOOLS,
            tool_choice={"type": "function", "function": {"name": "lookup"}},
            stream=True,
        )
    )
    arguments = "".join(
        c.choices[0].delta.tool_calls[0].function.arguments or ""
        for c in streamed
        if c.choices and c.choices[0].delta.tool_calls
    )
    assert arguments == '{"q": "x"}'


def test_anthropic_and_responses_surfaces_over_an_anthropic_model(stack) -> None:
    live, _ = stack
    message = live.anthropic().messages.create(
        model="claude", max_tokens=20, messages=[{"role": "user", "content": "ping"}]
    )
    assert message.content[0].text == "echo: ping"
    with live.anthropic().messages.stream(
        model="claude", max_tokens=20, messages=[{"role": "user", "content": "ping"}]
    ) as stream:
        assert "".join(stream.text_stream) == "echo: ping"
    response = live.openai().responses.create(model="claude", input="ping")
    assert response.output_text == "echo: ping" and response.usage.input_tokens == 1


def test_count_tokens_asks_the_anthropic_upstream(stack) -> None:
    live, upstream = stack
    counted = live.anthropic().messages.count_tokens(
        model="claude", system="Be brief.", messages=[{"role": "user", "content": "one two three"}]
    )
    assert counted.input_tokens == 5  # the fake counts words: 2 of system + 3 of the message
    sent = upstream.calls("/v1/messages/count_tokens")[-1].json
    assert sent["model"] == "claude-up" and sent["system"] == "Be brief."
    upstream.fail_status = 500  # counting is best effort: the estimate when the upstream fails
    assert (
        live.anthropic()
        .messages.count_tokens(model="claude", messages=[{"role": "user", "content": "one two three"}])
        .input_tokens
        > 0
    )


def test_upstream_failures(stack) -> None:
    live, upstream = stack
    client = live.openai()
    upstream.fail_status = 529  # Anthropic's "overloaded"
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 502
    upstream.fail_status = 400
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "x"}])
    upstream.fail_status = None
    upstream.cut_stream_after = 2
    with httpx.stream(
        "POST",
        f"{live.url}/v1/chat/completions",
        headers=bearer(MASTER_KEY),
        json={"model": "claude", "stream": True, "messages": [{"role": "user", "content": "a b c d e"}]},
    ) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data:")]
    assert '"error"' in lines[-1] and lines[-1] != "data: [DONE]"


def test_wrong_upstream_key_is_a_bad_gateway(fake, lockgate) -> None:
    upstream = fake("anthropic", "claude-up", api_key="sk-ant-secret")
    live = lockgate(models=[model("claude", "text-generation", provider(upstream, key="sk-ant-wrong"))])
    with pytest.raises(openai.APIStatusError) as caught:
        live.openai().chat.completions.create(model="claude", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code in (502, 503)
