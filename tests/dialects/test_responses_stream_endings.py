"""How a streamed, stored response ends up stored when its stream does not complete, read back with
the unchanged `openai` client (SQLite and PostgreSQL): the client goes away mid-stream → `cancelled`
with what was streamed (the generation stops, the usage is recorded); the upstream breaks mid-stream →
`failed` with the error; `store: false` keeps nothing either way."""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest

from lockgate.config import Settings
from tests.fakes.upstreams import FakeUpstream
from tests.gateway.conftest import model, provider
from tests.helpers import MASTER_KEY
from tests.live import Live, live_server

WORDS = 300
WAIT = 120  # seconds: the machine may be busy; never a timing assert


@pytest.fixture
def stack(database_url: str, tmp_path) -> Iterator[tuple[Live, FakeUpstream, FakeUpstream]]:
    with FakeUpstream("openai", "slow-model") as slow, FakeUpstream("openai", "flaky-model") as flaky:
        slow.reply = flaky.reply = " ".join(f"word{n}" for n in range(WORDS))
        slow.chunk_delay = flaky.chunk_delay = 0.05
        flaky.cut_stream_after = 3
        settings = Settings(
            data_dir=tmp_path,
            database_url=database_url,
            master_key=MASTER_KEY,
            log_format="text",
            local_models="off",
            provider_allowed_networks=["127.0.0.0/8"],  # the fakes live on loopback, on purpose
            models=[
                model("slow", "text-generation", provider(slow)),
                model("flaky", "text-generation", provider(flaky)),
            ],
        )
        with live_server(settings) as live:
            yield live, slow, flaky


def settled(client: openai.OpenAI, response_id: str) -> openai.types.responses.Response:
    """The stored response once it is no longer in progress (the server notices a gone client a
    moment after it left)."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            found = client.responses.retrieve(response_id)
            if found.status != "in_progress":
                return found
        except openai.NotFoundError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{response_id} was never stored")
        time.sleep(0.2)


def started(client: openai.OpenAI, **request) -> str:
    """Open a stream, read until the first text delta, then go away: the response's id."""
    stream = client.responses.create(model="slow", input="Tell me everything.", stream=True, **request)
    response_id = ""
    for event in stream:
        if event.type == "response.created":
            response_id = event.response.id
        if event.type == "response.output_text.delta":
            break
    stream.close()
    return response_id


def test_a_client_gone_mid_stream_leaves_it_stored_as_cancelled(stack) -> None:
    live, slow, _ = stack
    client = live.openai()
    response_id = started(client)
    found = settled(client, response_id)
    assert found.status == "cancelled"
    (item,) = found.output
    assert item.type == "message" and item.status == "incomplete"
    words = found.output_text.split()
    assert words and words[0] == "word0" and len(words) < WORDS  # what was streamed, no more
    # the generation was stopped and metered
    rows = live.admin.get("/v1/me/usage", params={"limit": 10}).json()["data"]
    assert any(r["endpoint"] == "/v1/responses" for r in rows)
    # a follow-up continues from what the client was sent
    follow = client.responses.create(model="slow", input="Go on.", previous_response_id=response_id)
    assert follow.status == "completed"
    sent = slow.calls("/v1/chat/completions")[-1].json["messages"]
    assert sent[-2] == {"role": "assistant", "content": found.output_text}


def test_an_upstream_broken_mid_stream_leaves_it_stored_as_failed(stack) -> None:
    live, _, _ = stack
    client = live.openai()
    events = list(client.responses.create(model="flaky", input="Tell me everything.", stream=True))
    assert events[-1].type == "error"
    found = settled(client, events[0].response.id)
    assert found.status == "failed" and found.error.code == "server_error" and found.error.message
    assert found.output_text.startswith("word0")


def test_store_false_keeps_nothing_when_the_stream_ends_early(stack) -> None:
    live, _, _ = stack
    client = live.openai()
    response_id = started(client, store=False)
    time.sleep(1)  # give the server the moment it would need to store it (it must not)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response_id)
