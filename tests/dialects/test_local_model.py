"""Both dialects with the unchanged official clients against a live Lockgate serving the real local
model (SmolLM2 on llama.cpp), once on SQLite and once on PostgreSQL (stored responses live there).
Nothing here asserts the tiny model's wording: only shapes, event sequences, tool calls and access."""

from __future__ import annotations

import io
import itertools

import anthropic
import httpx
import openai
import pytest

from tests.accounting.helpers import member_key
from tests.helpers import bearer
from tests.live import local_models_server

MODEL = "local-chat"
_seq = itertools.count(1)
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def local(request, tmp_path_factory, sqlite_template, postgres):
    directory = tmp_path_factory.mktemp("dialects")
    with local_models_server(request.param, directory, sqlite_template, postgres) as live:
        yield live


def test_anthropic_create_stream_and_count_tokens(local) -> None:
    client = local.anthropic()
    ask = {"model": MODEL, "max_tokens": 12, "messages": [{"role": "user", "content": "Say hello."}]}
    answer = client.messages.create(system="You are terse.", **ask)
    assert answer.type == "message" and answer.content and answer.content[0].type == "text"
    assert answer.stop_reason in ("end_turn", "max_tokens")
    assert 0 < answer.usage.output_tokens <= 12 and answer.usage.input_tokens > 0
    with client.messages.stream(**ask) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert final.content[0].text == streamed and final.usage.output_tokens > 0
    counted = client.messages.count_tokens(model=MODEL, messages=ask["messages"])
    longer = client.messages.count_tokens(
        model=MODEL, messages=[{"role": "user", "content": "Say hello. " * 20}]
    )
    assert 0 < counted.input_tokens < longer.input_tokens


def test_anthropic_tool_use_round_trip(local) -> None:
    client = local.anthropic()
    tools = [{"name": "get_weather", "description": "Weather of a city.", "input_schema": WEATHER}]
    question = {"role": "user", "content": "What is the weather in Paris?"}
    first = client.messages.create(
        model=MODEL,
        max_tokens=60,
        tools=tools,
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[question],
    )
    call = next(b for b in first.content if b.type == "tool_use")
    assert call.name == "get_weather" and isinstance(call.input, dict)
    assert first.stop_reason == "tool_use"
    result = {"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21 C"}
    second = client.messages.create(
        model=MODEL,
        max_tokens=16,
        tools=tools,
        messages=[question, first.to_param(), {"role": "user", "content": [result]}],
    )
    assert second.content and second.usage.output_tokens > 0


def test_responses_create_stream_and_function_call(local) -> None:
    client = local.openai()
    response = client.responses.create(model=MODEL, input="Say hello.", max_output_tokens=12)
    assert response.status in ("completed", "incomplete") and response.output[0].type == "message"
    assert response.usage.output_tokens > 0
    events = list(client.responses.create(model=MODEL, input="Say hello.", max_output_tokens=12, stream=True))
    assert events[0].type == "response.created" and events[-1].type in (
        "response.completed",
        "response.incomplete",
    )
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == events[-1].response.output_text
    tool = {"type": "function", "name": "get_weather", "parameters": WEATHER}
    called = client.responses.create(
        model=MODEL,
        input="Weather in Paris?",
        tools=[tool],
        tool_choice={"type": "function", "name": "get_weather"},
        max_output_tokens=60,
    )
    call = next(i for i in called.output if i.type == "function_call")
    assert call.name == "get_weather"
    follow = client.responses.create(
        model=MODEL,
        previous_response_id=called.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny"}],
        tools=[tool],
        max_output_tokens=16,
    )
    assert follow.previous_response_id == called.id and follow.output


def test_stored_responses_are_per_user(local) -> None:
    _, alice = member_key(local)
    _, bob = member_key(local)
    first = local.openai(alice).responses.create(model=MODEL, input="My name is Ada.", max_output_tokens=8)
    second = local.openai(alice).responses.create(
        model=MODEL, input="What is my name?", previous_response_id=first.id, max_output_tokens=8
    )
    assert local.openai(alice).responses.retrieve(second.id).previous_response_id == first.id
    for attempt in (
        lambda: local.openai(bob).responses.retrieve(first.id),
        lambda: local.openai(bob).responses.input_items.list(first.id),
        lambda: local.openai(bob).responses.create(model=MODEL, input="x", previous_response_id=first.id),
    ):
        with pytest.raises(openai.NotFoundError):
            attempt()


def test_file_search_over_a_collection_with_access_enforced(local) -> None:
    _, alice = member_key(local)
    _, bob = member_key(local)
    alice_http = httpx.Client(base_url=local.url, headers=bearer(alice), timeout=120)
    created = alice_http.post("/v1/collections", json={"name": f"kb{next(_seq)}"})
    assert created.status_code == 201, created.text
    collection = str(created.json()["id"])
    text = "# Pasta\n\nTo cook pasta, boil salted water and cook the pasta for ten minutes."
    files = {"file": ("pasta.md", io.BytesIO(text.encode()), "text/markdown")}
    uploaded = alice_http.post("/v1/documents", data={"collection_id": collection}, files=files)
    assert uploaded.status_code == 201, uploaded.text
    tool = {"type": "file_search", "vector_store_ids": [collection]}
    response = local.openai(alice).responses.create(
        model=MODEL,
        input="How long do I cook pasta?",
        tools=[tool],
        include=["file_search_call.results"],
        max_output_tokens=24,
    )
    search, message = response.output[0], response.output[-1]
    assert search.type == "file_search_call" and search.queries == ["How long do I cook pasta?"]
    assert search.results and "ten minutes" in search.results[0].text
    assert search.results[0].filename == "pasta.md"
    notes = message.content[0].annotations
    assert notes and {(n.type, n.filename) for n in notes} == {("file_citation", "pasta.md")}
    # Bob cannot read Alice's private collection: nothing is retrieved for him, nothing is cited.
    his = local.openai(bob).responses.create(
        model=MODEL,
        input="How long do I cook pasta?",
        tools=[tool],
        include=["file_search_call.results"],
        max_output_tokens=8,
    )
    assert his.output[0].results == [] and his.output[-1].content[0].annotations == []


def test_anthropic_errors_on_a_local_model(local) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        local.anthropic().messages.create(
            model=MODEL, max_tokens=0, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.body["error"]["type"] == "invalid_request_error"
