"""The unchanged official `anthropic` client against a live Lockgate in front of a fake OpenAI-style
upstream: /v1/messages (plain, streamed, tool use), count_tokens, errors in Anthropic's envelope, and the
same limits, budgets and usage rows as chat completions."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from tests.accounting.helpers import member_key, router_id
from tests.gateway.conftest import dead_url, model, provider
from tests.helpers import MASTER_KEY, bearer, fresh_minute

LOOKUP = {
    "name": "lookup",
    "description": "Look a word up.",
    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
}


@pytest.fixture
def stack(fake, lockgate):
    upstream = fake("vllm", "up-chat")
    live = lockgate(models=[model("chat", "text-generation", provider(upstream), aliases=["claude-fake"])])
    return live, upstream


def test_create_translates_the_request_and_answers_a_message(stack) -> None:
    live, upstream = stack
    answer = live.anthropic().messages.create(
        model="claude-fake",
        max_tokens=50,
        system=[{"type": "text", "text": "Be brief."}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "hello there"}]}],
        stop_sequences=["END"],
        metadata={"user_id": "u-42"},
        # the 2.x SDK dropped the sampling arguments; older clients and raw HTTP still send them
        extra_body={"temperature": 0.5, "top_k": 7, "top_p": 0.9},
    )
    assert isinstance(answer, anthropic.types.Message)
    assert answer.id.startswith("msg_") and answer.role == "assistant" and answer.model == "chat"
    assert [b.type for b in answer.content] == ["text"]
    assert answer.content[0].text == "echo: hello there"  # the fake's deterministic echo
    assert answer.stop_reason == "end_turn"
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (4, 3)
    sent = upstream.calls("/v1/chat/completions")[-1].json
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello there"},
    ]
    assert (sent["max_tokens"], sent["stop"], sent["top_k"], sent["user"]) == (50, ["END"], 7, "u-42")
    assert (sent["temperature"], sent["top_p"], sent["model"]) == (0.5, 0.9, "up-chat")


def test_max_tokens_cut_is_reported_as_max_tokens(stack) -> None:
    live, _ = stack
    answer = live.anthropic().messages.create(
        model="chat", max_tokens=2, messages=[{"role": "user", "content": "one two three four"}]
    )
    assert answer.stop_reason == "max_tokens"
    assert answer.usage.output_tokens == 2


def test_output_config_json_schema_becomes_response_format(stack) -> None:
    live, upstream = stack
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    answer = live.anthropic().messages.create(
        model="chat",
        max_tokens=20,
        output_config={"format": {"type": "json_schema", "schema": schema}},
        messages=[{"role": "user", "content": "json please"}],
    )
    assert answer.content[0].text == '{"answer": "ok"}'  # the fake's JSON-mode answer
    sent = upstream.calls("/v1/chat/completions")[-1].json["response_format"]
    assert sent == {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}


def test_stream_helper_accumulates_the_message(stack) -> None:
    live, _ = stack
    with live.anthropic().messages.stream(
        model="chat", max_tokens=50, messages=[{"role": "user", "content": "one two three"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "echo: one two three"
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (3, 4)


def test_stream_event_sequence_on_the_wire(stack) -> None:
    live, _ = stack
    with httpx.stream(
        "POST",
        f"{live.url}/v1/messages",
        headers={"x-api-key": MASTER_KEY},
        json={
            "model": "chat",
            "max_tokens": 9,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        names = [line[7:] for line in response.iter_lines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]


def test_tool_use_round_trip(stack) -> None:
    live, upstream = stack
    client = live.anthropic()
    question = {"role": "user", "content": "find x"}
    first = client.messages.create(
        model="chat",
        max_tokens=50,
        tools=[LOOKUP],
        tool_choice={"type": "tool", "name": "lookup"},
        messages=[question],
    )
    assert first.stop_reason == "tool_use"
    call = next(b for b in first.content if b.type == "tool_use")
    assert (call.name, call.input) == ("lookup", {"q": "x"})
    sent = upstream.calls("/v1/chat/completions")[-1].json
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a word up.",
                "parameters": LOOKUP["input_schema"],
            },
        }
    ]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    result = {"type": "tool_result", "tool_use_id": call.id, "content": [{"type": "text", "text": "x = 42"}]}
    second = client.messages.create(
        model="chat",
        max_tokens=50,
        tools=[LOOKUP],
        messages=[question, first.to_param(), {"role": "user", "content": [result]}],
    )
    assert second.stop_reason == "end_turn" and second.content[0].type == "text"
    sent = upstream.calls("/v1/chat/completions")[-1].json["messages"]
    assert sent[1]["role"] == "assistant" and sent[1]["tool_calls"][0]["id"] == call.id
    assert sent[1]["tool_calls"][0]["function"] == {"name": "lookup", "arguments": '{"q":"x"}'}
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "x = 42"}


def test_streamed_tool_use_accumulates_the_input(stack) -> None:
    live, upstream = stack
    with live.anthropic().messages.stream(
        model="chat",
        max_tokens=50,
        tools=[LOOKUP],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "find x"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert [(b.type, b.name, b.input) for b in final.content] == [("tool_use", "lookup", {"q": "x"})]
    assert upstream.calls("/v1/chat/completions")[-1].json["tool_choice"] == "required"


def test_count_tokens(stack) -> None:
    live, _ = stack
    client = live.anthropic()
    small = client.messages.count_tokens(model="chat", messages=[{"role": "user", "content": "hi"}])
    big = client.messages.count_tokens(
        model="chat",
        system="You answer.",
        tools=[LOOKUP],
        messages=[{"role": "user", "content": "hi " * 200}],
    )
    assert 0 < small.input_tokens < big.input_tokens
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="nope", messages=[{"role": "user", "content": "hi"}])


def test_x_api_key_and_bearer_both_authenticate(stack) -> None:
    live, _ = stack
    body = {"model": "chat", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    for headers in ({"x-api-key": MASTER_KEY}, bearer(MASTER_KEY)):
        assert httpx.post(f"{live.url}/v1/messages", headers=headers, json=body).status_code == 200
    refused = httpx.post(f"{live.url}/v1/messages", headers={"x-api-key": "sk-wrong"}, json=body)
    assert refused.status_code == 401
    assert refused.json()["type"] == "error"
    assert refused.json()["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.AuthenticationError):
        live.anthropic("sk-wrong").messages.create(model="chat", max_tokens=5, messages=body["messages"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 10**30}, "max_tokens"),  # #22: ran, then could not be rendered
        ({"top_k": 10**30}, "top_k"),
        ({"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]}, "messages.0"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools.0"),
        ({"temperature": 1.5}, "temperature"),
        ({"tool_choice": {"type": "tool", "name": "absent"}}, "tool_choice"),
        ({"messages": [{"role": "user", "content": []}]}, "messages"),
        ({"messages": []}, "messages"),
        ({"mcp_servers": [{"type": "url", "url": "https://example.org", "name": "x"}]}, "mcp_servers"),
        (  # an integer JSON cannot carry on to the model (found by schemathesis: was a 500)
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {"n": 2**70}}],
                    },
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}],
                    },
                ]
            },
            "messages.1.content.0.input",
        ),
    ],
)
def test_malformed_requests_get_anthropic_400(stack, change: dict, field: str) -> None:
    live, upstream = stack
    body = {"model": "chat", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = httpx.post(f"{live.url}/v1/messages", headers=bearer(MASTER_KEY), json=body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["type"] == "error" and payload["error"]["type"] == "invalid_request_error"
    assert field in payload["error"]["message"]
    assert upstream.calls("/v1/chat/completions") == []


def test_unknown_model_and_unparsable_body(stack) -> None:
    live, _ = stack
    with pytest.raises(anthropic.NotFoundError) as caught:
        live.anthropic().messages.create(
            model="nope", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.body["error"]["type"] == "not_found_error"
    broken = httpx.post(
        f"{live.url}/v1/messages",
        headers={**bearer(MASTER_KEY), "content-type": "application/json"},
        content=b"{",
    )
    assert broken.status_code == 400 and broken.json()["error"]["type"] == "invalid_request_error"


def test_upstream_down_is_an_anthropic_5xx(fake, lockgate) -> None:
    live = lockgate(models=[model("chat", "text-generation", provider(dead_url(), "vllm"))])
    with pytest.raises(anthropic.APIStatusError) as caught:
        live.anthropic().messages.create(
            model="chat", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code in (502, 503)
    assert caught.value.body["error"]["type"] in ("api_error", "overloaded_error")


def test_limits_budgets_and_usage_rows_apply(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    priced = {"cost_prompt_tokens": 1_000_000.0, "cost_completion_tokens": 0.0}
    live = lockgate(models=[model("chat", "text-generation", provider(upstream), **priced)])
    _, key = member_key(live, [{"router": router_id(live, "chat"), "type": "rpm", "value": 2}], budget=100.0)
    fresh_minute()
    client = live.anthropic(key)
    ask = {"model": "chat", "max_tokens": 5, "messages": [{"role": "user", "content": "ping"}]}
    client.messages.create(**ask)
    with client.messages.stream(**ask) as stream:
        stream.until_done()
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(**ask)
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert len(upstream.calls("/v1/chat/completions")) == 2
    rows = httpx.get(f"{live.url}/v1/me/usage", headers=bearer(key)).json()["data"]
    assert [(r["endpoint"], r["status"]) for r in rows] == [("/v1/messages", 200)] * 2
    assert all(r["usage"]["cost"] > 0 for r in rows)
    _, poor = member_key(live, budget=0.5)
    with pytest.raises(anthropic.APIStatusError) as refused:
        live.anthropic(poor).messages.create(**ask)
    assert refused.value.status_code == 402
    assert refused.value.body["error"]["type"] == "billing_error"
