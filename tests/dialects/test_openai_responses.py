"""The unchanged official `openai` client's Responses API against a live Lockgate in front of a fake
upstream: create (plain, streamed), function-calling round trip, text.format json_schema, stored
responses chained by previous_response_id (owner only), input_items, delete, errors, accounting."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.accounting.helpers import member_key, router_id
from tests.gateway.conftest import model, provider
from tests.helpers import MASTER_KEY, bearer, fresh_minute

LOOKUP = {
    "type": "function",
    "name": "lookup",
    "description": "Look a word up.",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
}


@pytest.fixture
def stack(fake, lockgate):
    upstream = fake("vllm", "up-chat")
    live = lockgate(models=[model("chat", "text-generation", provider(upstream), aliases=["gpt-fake"])])
    return live, upstream


def test_create_with_string_input_and_instructions(stack) -> None:
    live, upstream = stack
    response = live.openai().responses.create(
        model="gpt-fake",
        instructions="Be brief.",
        input="hello there",
        max_output_tokens=40,
        temperature=0.3,
        top_p=0.8,
        metadata={"ticket": "T-1"},
    )
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.model == "chat"
    assert response.output_text == "echo: hello there"  # the fake's deterministic echo
    assert response.output[0].type == "message" and response.output[0].role == "assistant"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (4, 3)
    assert response.usage.total_tokens == 7
    assert response.metadata == {"ticket": "T-1"} and response.instructions == "Be brief."
    sent = upstream.calls("/v1/chat/completions")[-1].json
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello there"},
    ]
    assert (sent["max_tokens"], sent["temperature"], sent["top_p"]) == (40, 0.3, 0.8)


def test_items_input_and_max_output_tokens_cut(stack) -> None:
    live, upstream = stack
    response = live.openai().responses.create(
        model="chat",
        input=[
            {"role": "developer", "content": "Answer in English."},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "one two three"}]},
        ],
        max_output_tokens=2,
    )
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output[-1].type == "message" and response.output[-1].status == "incomplete"  # #22
    assert live.openai().responses.retrieve(response.id).output[-1].status == "incomplete"
    sent = upstream.calls("/v1/chat/completions")[-1].json["messages"]
    assert sent == [
        {"role": "system", "content": "Answer in English."},
        {"role": "user", "content": "one two three"},
    ]


def test_a_streamed_message_cut_by_max_output_tokens_is_done_as_incomplete(stack) -> None:
    live, _ = stack
    events = list(
        live.openai().responses.create(model="chat", input="one two three", max_output_tokens=2, stream=True)
    )
    [done] = [e for e in events if e.type == "response.output_item.done" and e.item.type == "message"]
    assert done.item.status == "incomplete"  # as the final response says of the same item (#22)
    assert events[-1].response.status == "incomplete"
    assert events[-1].response.output[-1].status == "incomplete"


def test_streaming_event_sequence_and_final_response(stack) -> None:
    live, _ = stack
    events = list(live.openai().responses.create(model="chat", input="one two three", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.output_item.added" in kinds and "response.content_part.added" in kinds
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "echo: one two three"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = events[-1].response
    assert final.output_text == text and final.usage.output_tokens == 4
    assert live.openai().responses.retrieve(final.id).output_text == text  # stored at the end


def test_stream_helper_of_the_sdk(stack) -> None:
    live, _ = stack
    with live.openai().responses.stream(model="chat", input="alpha beta") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "echo: alpha beta"


def test_function_calling_round_trip(stack) -> None:
    live, upstream = stack
    client = live.openai()
    first = client.responses.create(
        model="chat", input="find x", tools=[LOOKUP], tool_choice={"type": "function", "name": "lookup"}
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert [(c.name, c.arguments) for c in calls] == [("lookup", '{"q": "x"}')]
    sent = upstream.calls("/v1/chat/completions")[-1].json
    assert sent["tools"][0]["function"]["name"] == "lookup"
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    call = calls[0]
    second = client.responses.create(
        model="chat",
        tools=[LOOKUP],
        input=[
            {"role": "user", "content": "find x"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "x = 42"},
        ],
    )
    assert second.output_text
    sent = upstream.calls("/v1/chat/completions")[-1].json["messages"]
    assert sent[1]["role"] == "assistant" and sent[1]["tool_calls"][0]["id"] == call.call_id
    assert sent[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "x = 42"}


def test_streamed_function_call_arguments(stack) -> None:
    live, _ = stack
    events = list(
        live.openai().responses.create(
            model="chat", input="find x", tools=[LOOKUP], tool_choice="required", stream=True
        )
    )
    arguments = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert arguments == '{"q": "x"}'
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert done.arguments == arguments
    final = events[-1].response
    assert [(i.type, i.name, i.arguments) for i in final.output] == [("function_call", "lookup", arguments)]


def test_json_schema_text_format(stack) -> None:
    live, upstream = stack
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    response = live.openai().responses.create(
        model="chat",
        input="json please",
        text={"format": {"type": "json_schema", "name": "reply", "schema": schema, "strict": True}},
    )
    assert response.output_text == '{"answer": "ok"}'
    assert response.text.format.type == "json_schema"
    sent = upstream.calls("/v1/chat/completions")[-1].json["response_format"]
    assert sent == {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}}


def test_previous_response_id_chains_the_conversation(stack) -> None:
    live, upstream = stack
    client = live.openai()
    first = client.responses.create(model="chat", instructions="Only here.", input="my name is Ada")
    second = client.responses.create(model="chat", input="what is my name", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    sent = upstream.calls("/v1/chat/completions")[-1].json["messages"]
    assert sent == [
        {"role": "user", "content": "my name is Ada"},
        {"role": "assistant", "content": first.output_text},
        {"role": "user", "content": "what is my name"},
    ]  # instructions do not carry over, as on OpenAI
    third = client.responses.create(model="chat", input="and again", previous_response_id=second.id)
    assert len(upstream.calls("/v1/chat/completions")[-1].json["messages"]) == 5
    assert third.output_text


def test_retrieve_input_items_delete_and_not_stored(stack) -> None:
    live, _ = stack
    client = live.openai()
    response = client.responses.create(
        model="chat", input=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    )
    assert client.responses.retrieve(response.id).output_text == response.output_text
    items = client.responses.input_items.list(response.id, order="asc")
    assert [i.content[0].text for i in items.data] == ["a", "b"]
    assert all(i.id and i.type == "message" for i in items.data)
    newest = client.responses.input_items.list(response.id, limit=1)
    assert [i.content[0].text for i in newest.data] == ["b"] and newest.has_more
    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(response.id)
    unstored = client.responses.create(model="chat", input="x", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="chat", input="y", previous_response_id=unstored.id)


def test_another_users_stored_response_is_404(stack) -> None:
    live, upstream = stack
    _, alice = member_key(live)
    _, bob = member_key(live)
    mine = live.openai(alice).responses.create(model="chat", input="secret")
    other = live.openai(bob)
    calls = len(upstream.calls("/v1/chat/completions"))
    for attempt in (
        lambda: other.responses.retrieve(mine.id),
        lambda: other.responses.delete(mine.id),
        lambda: other.responses.input_items.list(mine.id),
        lambda: other.responses.create(model="chat", input="x", previous_response_id=mine.id),
    ):
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert len(upstream.calls("/v1/chat/completions")) == calls  # refused before any upstream call
    assert live.openai(alice).responses.retrieve(mine.id).id == mine.id


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x"}, "model"),
        ({"model": "chat"}, "input"),
        ({"model": "chat", "input": "x", "tools": [{"type": "web_search"}]}, "tools.0"),
        ({"model": "chat", "input": "x", "temperature": 3}, "temperature"),
        # #22: ran, was stored, then every render of it was a 500
        ({"model": "chat", "input": "x", "max_output_tokens": 10**29}, "max_output_tokens"),
        ({"model": "chat", "input": "x", "top_logprobs": 10**29}, "top_logprobs"),
        ({"model": "chat", "input": [{"type": "computer_call_output"}]}, "input.0"),
        ({"model": "chat", "input": "x", "background": True}, "background"),
        ({"model": "chat", "input": "x", "text": {"format": {"type": "json_schema"}}}, "text.format"),
        ({"model": "chat", "input": []}, "input"),
        ({"model": "chat", "input": "x", "conversation": "conv_1"}, "conversation"),
        (
            {"model": "chat", "input": "", "tools": [{"type": "file_search", "vector_store_ids": ["1"]}]},
            "input",
        ),
        (
            {"model": "chat", "input": "x", "tools": [{"type": "file_search", "vector_store_ids": ["a"]}]},
            "tools",
        ),
    ],
)
def test_malformed_requests_get_the_openai_error_envelope(stack, body: dict, param: str) -> None:
    live, upstream = stack
    response = httpx.post(f"{live.url}/v1/responses", headers=bearer(MASTER_KEY), json=body)
    assert response.status_code in (400, 422), response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and param in (error["param"] or "")
    assert upstream.calls("/v1/chat/completions") == []


def test_an_input_item_of_unknown_type_names_the_types_and_nothing_internal(stack) -> None:
    live, _ = stack
    for kind in (["message"], "image"):
        response = httpx.post(
            f"{live.url}/v1/responses",
            headers=bearer(MASTER_KEY),
            json={"model": "chat", "input": [{"type": kind, "role": "user", "content": "hi"}]},
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["param"] == "input.0" and "function_call_output" in error["message"]
        assert "_item_type" not in error["message"] and "replayed" not in error["message"]


def test_unparsable_body_unknown_model_and_wrong_key(stack) -> None:
    live, _ = stack
    broken = httpx.post(
        f"{live.url}/v1/responses",
        headers={**bearer(MASTER_KEY), "content-type": "application/json"},
        content=b"{",
    )
    assert broken.status_code == 422 and broken.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(openai.NotFoundError):
        live.openai().responses.create(model="nope", input="x")
    with pytest.raises(openai.AuthenticationError):
        live.openai("sk-wrong").responses.create(model="chat", input="x")


def test_limits_budgets_and_usage_rows_apply(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    priced = {"cost_prompt_tokens": 1_000_000.0, "cost_completion_tokens": 0.0}
    live = lockgate(models=[model("chat", "text-generation", provider(upstream), **priced)])
    _, key = member_key(live, [{"router": router_id(live, "chat"), "type": "rpm", "value": 2}], budget=100.0)
    fresh_minute()
    client = live.openai(key)
    first = client.responses.create(model="chat", input="ping")
    assert first.usage.input_tokens == 1
    list(client.responses.create(model="chat", input="ping", stream=True))
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="chat", input="ping")
    assert len(upstream.calls("/v1/chat/completions")) == 2
    rows = httpx.get(f"{live.url}/v1/me/usage", headers=bearer(key)).json()["data"]
    assert [(r["endpoint"], r["status"]) for r in rows] == [("/v1/responses", 200)] * 2
    assert all(r["usage"]["cost"] > 0 for r in rows)
    _, poor = member_key(live, budget=0.5)
    with pytest.raises(openai.APIStatusError) as refused:
        live.openai(poor).responses.create(model="chat", input="ping")
    assert refused.value.status_code == 402
