"""Anthropic's `stop_reason: "stop_sequence"` with the matched `stop_sequence`, read by the unchanged
`anthropic` client (plain and streamed): from an upstream that names the sequence (vLLM's
`stop_reason`, Anthropic's own `stop_sequence`) and from the local llama.cpp engine, which matches the
sequences itself. An upstream that does not name it (OpenAI) leaves `end_turn`."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import model, provider
from tests.live import local_models_server

ASK = {"max_tokens": 50, "messages": [{"role": "user", "content": "one two three four"}]}


@pytest.fixture
def stack(fake, lockgate):
    vllm, openai_up = fake("vllm", "up-vllm"), fake("openai", "up-openai")
    claude = fake("anthropic", "claude-up", api_key="sk-ant-secret")
    live = lockgate(
        models=[
            model("vllm", "text-generation", provider(vllm)),
            model("openai", "text-generation", provider(openai_up)),
            model("claude", "text-generation", provider(claude)),
        ]
    )
    return live, vllm


def both_ways(client, **request):
    """(the created message, the streamed one as the SDK accumulates it)."""
    created = client.messages.create(**request)
    with client.messages.stream(**request) as stream:
        streamed = stream.get_final_message()
    return created, streamed


@pytest.mark.parametrize("name", ["vllm", "claude"])
def test_an_upstream_that_names_the_sequence(stack, name: str) -> None:
    live, _ = stack
    for message in both_ways(live.anthropic(), model=name, stop_sequences=["zzz", "three"], **ASK):
        assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "three")
        assert message.content[0].text == "echo: one two "
    # no sequence met: a natural end
    for message in both_ways(live.anthropic(), model=name, stop_sequences=["zzz"], **ASK):
        assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)


def test_chat_completions_carry_vllms_stop_reason_through(stack) -> None:
    live, _ = stack
    answer = live.openai().chat.completions.create(
        model="claude", max_tokens=50, stop=["three"], messages=ASK["messages"]
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "stop" and choice.message.content == "echo: one two "
    assert choice.model_extra.get("stop_reason") == "three"


def test_an_upstream_that_does_not_name_it_is_an_end_turn(stack) -> None:
    live, _ = stack
    for message in both_ways(live.anthropic(), model="openai", stop_sequences=["three"], **ASK):
        assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
        assert message.content[0].text == "echo: one two "


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def local(request, tmp_path_factory, sqlite_template, postgres):
    with local_models_server(
        request.param, tmp_path_factory.mktemp("stops"), sqlite_template, postgres
    ) as live:
        yield live


def test_the_local_engine_names_the_sequence_it_stopped_on(local) -> None:
    """ " " and "e" are in nearly any sentence: whichever the model writes first stops it."""
    stops = ["e", " "]
    request = {
        "model": "local-chat",
        "max_tokens": 40,
        "extra_body": {"temperature": 0},  # the 2.x SDK dropped the sampling arguments
        "stop_sequences": stops,
        "messages": [{"role": "user", "content": "Describe the sea in one long sentence."}],
    }
    for message in both_ways(local.anthropic(), **request):
        assert message.stop_reason == "stop_sequence" and message.stop_sequence in stops
        text = "".join(b.text for b in message.content if b.type == "text")
        assert not any(s in text for s in stops)
    # the same engine through chat completions: cut before the sequence, which is named
    answer = local.openai().chat.completions.create(
        model="local-chat",
        max_tokens=40,
        temperature=0,
        stop=stops,
        messages=request["messages"],
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "stop" and choice.model_extra.get("stop_reason") in stops
    assert not any(s in choice.message.content for s in stops)
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
