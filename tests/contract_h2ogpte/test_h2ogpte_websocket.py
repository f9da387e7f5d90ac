"""The chat websocket's unhappy paths, against a live Lockgate (SQLite and PostgreSQL): refused
handshakes (no key, a bad key, an unknown or someone else's session, a collection key outside its
collection) as HTTP statuses the `H2OGPTE` class raises as its errors; malformed and binary frames;
an upstream that is down or drops mid-answer (an error frame; the stored answer keeps the error); and
a client that goes away mid-answer (the answer is stored cut short, the usage recorded). The models
"slow" and "flaky" are fake upstreams registered for this module."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from lockgate.api.h2ogpte.common import from_public_id, to_public_id
from tests.contract_h2ogpte.conftest import H2oUser
from tests.contract_h2ogpte.test_h2ogpte_sdk import TIMEOUT, quickstart_collection, sdk, usage_endpoints
from tests.fakes.upstreams import FakeUpstream

LONG_REPLY = " ".join(f"word{n}" for n in range(400))
FLAKY_CUT_AFTER = 3
CUT_SHORT = "The client went away before the answer was complete."


@pytest.fixture(scope="module")
def fakes(lockgate) -> Iterator[None]:
    """Register "slow" (a long reply, a word every 50 ms) and "flaky" (drops after three words)."""
    with FakeUpstream("openai", "slow-model") as slow, FakeUpstream("openai", "flaky-model") as flaky:
        slow.reply = flaky.reply = LONG_REPLY
        slow.chunk_delay = 0.05
        flaky.cut_stream_after = FLAKY_CUT_AFTER
        flaky.chunk_delay = 0.05  # read before the cut: aiohttp drops unread data once a read fails
        for name, fake in (("slow", slow), ("flaky", flaky)):
            router = lockgate.admin.post("/v1/admin/routers", json={"name": name, "type": "text-generation"})
            assert router.status_code == 201, router.text
            body = {
                "router": router.json()["id"],
                "type": "openai",
                "url": fake.url,
                "model_name": fake.model,
            }
            made = lockgate.admin.post("/v1/admin/providers", json=body)
            assert made.status_code == 201, made.text
        yield


def ws_url(lockgate, session_id: str) -> str:
    return lockgate.url.replace("http://", "ws://") + f"/ws?currentSessionID={session_id}"


def raw_socket(lockgate, key: str | None, session_id: str):
    from websockets.sync.client import connect

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return connect(ws_url(lockgate, session_id), additional_headers=headers, open_timeout=60)


def refused_status(lockgate, key: str | None, session_id: str) -> int:
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        raw_socket(lockgate, key, session_id)
    return refused.value.response.status_code


def cq(session_id: str, message: str, **fields) -> str:
    frame = {
        "t": "cq",
        "mode": "s",
        "session_id": session_id,
        "correlation_id": str(uuid.uuid4()),
        "body": message,
        "llm_args": json.dumps({"max_new_tokens": 400}),
        "rag_config": json.dumps({"rag_type": "llm_only"}),
        **fields,
    }
    return json.dumps(frame)


def frames_until(socket, types: set[str]) -> list[dict]:
    """Frames received until one of `types` (included)."""
    seen: list[dict] = []
    while True:
        frame = json.loads(socket.recv(timeout=TIMEOUT))
        seen.append(frame)
        if frame["t"] in types:
            return seen


def stored_answer(lockgate, user: H2oUser, session_id: str) -> dict:
    """The session's answer once stored (polled: a cancelled answer is stored as the server notices)."""
    with httpx.Client(base_url=lockgate.url, headers={"Authorization": f"Bearer {user.key}"}) as client:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            messages = client.get(f"/api/v1/chats/{session_id}/messages", timeout=60).json()
            answers = [m for m in messages if m["reply_to"]]
            if answers:
                return answers[0]
            time.sleep(0.2)
    raise AssertionError("no answer was stored")


def test_refused_handshakes_and_what_the_client_raises(lockgate, new_user) -> None:
    from h2ogpte.errors import ForbiddenError, ObjectNotFoundError, UnauthorizedError

    alice, bob = new_user(), new_user()
    client = sdk(lockgate, alice)
    collection_id, _ = quickstart_collection(client)
    other_id = client.create_collection(name="Other", description="")
    session_id = client.create_chat_session(collection_id)
    other_session = client.create_chat_session(other_id)

    assert refused_status(lockgate, None, session_id) == 401
    assert refused_status(lockgate, "sk-wrong", session_id) == 401
    assert refused_status(lockgate, bob.key, session_id) == 404  # another user's session: not found
    assert refused_status(lockgate, alice.key, to_public_id("chat", 2**40)) == 404
    assert refused_status(lockgate, alice.key, "not-a-session") == 404

    with pytest.raises(ObjectNotFoundError):
        sdk(lockgate, bob).connect(session_id).connect()

    # A collection key chats with its collection only (as on REST).
    with httpx.Client(base_url=lockgate.url, headers={"Authorization": f"Bearer {alice.key}"}) as http:
        made = http.post(
            "/v1/me/keys",
            json={"name": "bot", "collection_id": from_public_id("collection", collection_id)},
        )
        assert made.status_code == 201, made.text
        collection_key = made.json()["token"]
    assert refused_status(lockgate, collection_key, other_session) == 403
    with pytest.raises(UnauthorizedError):
        sdk(lockgate, collection_key).connect(other_session).connect()
    # The README's collection-key example: chat on the default collection, list and summarise its
    # documents; nothing else.
    keyed = sdk(lockgate, collection_key)
    own = keyed.create_chat_session_on_default_collection()
    with keyed.connect(own) as session:
        reply = session.query("Hello?", llm_args={"max_new_tokens": 8}, timeout=TIMEOUT)
    assert reply.content
    default = keyed.get_default_collection()
    assert default.id == collection_id
    documents = keyed.list_documents_in_collection(default.id, offset=0, limit=99)
    assert len(documents) == 2
    summary = keyed.summarize_document(
        document_id=documents[0].id, llm_args={"max_new_tokens": 8}, timeout=TIMEOUT
    )
    assert summary.document_id == documents[0].id
    for call in (
        lambda: keyed.get_collection(other_id),
        lambda: keyed.list_documents_in_collection(other_id, offset=0, limit=10),
        lambda: keyed.create_collection(name="x", description=""),
        lambda: keyed.list_recent_collections(offset=0, limit=10),
    ):
        with pytest.raises(ForbiddenError):  # the class's REST calls raise 403 as ForbiddenError
            call()


def test_malformed_frames_get_error_frames_and_the_connection_lives_on(lockgate, new_user, fakes) -> None:
    from websockets.exceptions import ConnectionClosed

    alice = new_user()
    session_id = sdk(lockgate, alice).create_chat_session()
    with raw_socket(lockgate, alice.key, session_id) as socket:
        socket.send("not json")
        assert json.loads(socket.recv(timeout=TIMEOUT))["t"] == "ce"
        socket.send(json.dumps([1, 2]))
        assert json.loads(socket.recv(timeout=TIMEOUT))["t"] == "ce"
        socket.send(json.dumps({"t": "cq", "session_id": session_id, "correlation_id": "c1"}))
        missing = json.loads(socket.recv(timeout=TIMEOUT))
        assert missing["t"] == "ce" and "body" in missing["error"] and missing["correlation_id"] == "c1"
        socket.send(cq(session_id, "hi", llm_args="{not json"))
        assert "llm_args" in json.loads(socket.recv(timeout=TIMEOUT))["error"]
        unknown = cq(to_public_id("chat", 2**40), "hi")
        socket.send(unknown)
        error = frames_until(socket, {"ce"})[-1]
        assert (
            "not found" in error["error"] and error["correlation_id"] == json.loads(unknown)["correlation_id"]
        )
        # still open: a good request is answered
        socket.send(cq(session_id, "Say one word.", llm="slow", llm_args=json.dumps({"max_new_tokens": 3})))
        frames = frames_until(socket, {"ca", "ce"})
        assert frames[0]["t"] == "cx" and frames[-1]["t"] == "ca"
        assert frames[-1]["body"] == "word0 word1 word2"
        socket.send(b"\x00binary")
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=TIMEOUT)
        assert closed.value.rcvd.code == 1003


def test_upstream_down_or_dropping_mid_answer_is_an_error_frame_and_kept(lockgate, new_user, fakes) -> None:
    from h2ogpte.types import PartialChatMessage, SessionError

    alice = new_user()
    client = sdk(lockgate, alice)
    for llm, partials_expected in (("ghost", False), ("flaky", True)):
        session_id = client.create_chat_session()
        received: list = []
        with client.connect(session_id) as session, pytest.raises(SessionError) as failed:
            session.query(
                "Hello?", llm=llm, llm_args={"max_new_tokens": 400}, timeout=TIMEOUT, callback=received.append
            )
        assert "Remote error" in str(failed.value)
        partials = [m for m in received if isinstance(m, PartialChatMessage)]
        assert bool(partials) == partials_expected, llm
        answer = stored_answer(lockgate, alice, session_id)
        assert answer["error"], llm
    # the dead upstream's error frame says when to retry
    session_id = client.create_chat_session()
    with raw_socket(lockgate, alice.key, session_id) as socket:
        socket.send(cq(session_id, "Hello?", llm="ghost"))
        error = frames_until(socket, {"ce"})[-1]
    assert error["retry_after"] >= 1 and error["reply_to_id"]


def test_a_client_gone_mid_answer_stops_it_and_usage_is_recorded(lockgate, new_user, fakes) -> None:
    alice = new_user()
    session_id = sdk(lockgate, alice).create_chat_session()
    with raw_socket(lockgate, alice.key, session_id) as socket:
        socket.send(cq(session_id, "Tell me everything.", llm="slow"))
        frames_until(socket, {"cp"})  # the answer has started
    answer = stored_answer(lockgate, alice, session_id)
    assert answer["error"] == CUT_SHORT
    assert answer["content"].startswith("word0") and len(answer["content"].split()) < 400
    assert "/ws" in usage_endpoints(lockgate, alice.key)


def test_several_sessions_answer_at_once_on_one_connection(lockgate, new_user, fakes) -> None:
    """A long answer (400 words, ~20 s) then a short one (5 words), of two sessions, on one connection:
    the short one is answered first — they run at once — each frame names its own session, and each
    answer is stored in its session."""
    alice = new_user()
    client = sdk(lockgate, alice)
    first, second = client.create_chat_session(), client.create_chat_session()
    with raw_socket(lockgate, alice.key, first) as socket:
        socket.send(cq(first, "One?", llm="slow"))
        socket.send(cq(second, "Two?", llm="slow", llm_args=json.dumps({"max_new_tokens": 5})))
        frames: list[dict] = []
        while sum(f["t"] == "ca" for f in frames) < 2:
            frames.append(json.loads(socket.recv(timeout=TIMEOUT)))
    assert not [f for f in frames if f["t"] == "ce"]
    answers = [f for f in frames if f["t"] == "ca"]
    assert [a["session_id"] for a in answers] == [second, first]
    assert {f["session_id"] for f in frames if f["t"] == "cp"} == {first, second}
    for answer, words in ((answers[0], 5), (answers[1], 400)):
        assert answer["body"] == " ".join(f"word{n}" for n in range(words))
        stored = stored_answer(lockgate, alice, answer["session_id"])
        assert stored["id"] == answer["message_id"] and stored["content"] == answer["body"]
