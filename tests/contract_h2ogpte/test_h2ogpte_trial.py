"""What a new user tried with the unchanged `H2OGPTE` / `H2OGPTEAsync` classes beyond the quickstart
(SQLite and PostgreSQL, real local models): `metadata_filter` on a websocket question, everything a
collection key may read of its own collection (and nothing of another), and the async class's refusals
(wrong key, another user's objects, missing objects)."""

from __future__ import annotations

import io

import httpx
import pytest

from lockgate.api.h2ogpte.common import from_public_id, to_public_id
from tests.contract_h2ogpte.test_h2ogpte_sdk import INITECH, SCRANTON, SHORT, TIMEOUT, sdk, usage_endpoints

RAG = {"rag_type": "rag"}


def tagged_collection(client) -> tuple[str, dict[str, str]]:
    """Two documents ingested with metadata: {name: document id}."""
    collection_id = client.create_collection(name="Branches", description="")
    for name, text, metadata in (
        ("Dunder Mifflin.txt", SCRANTON, {"branch": "scranton", "year": 2005}),
        ("IniTech.txt", INITECH, {"branch": "initech", "year": 1999}),
    ):
        upload = client.upload(name, io.BytesIO(text))
        job = client.ingest_uploads(collection_id, [upload], metadata=metadata)
        assert job.completed and job.errors == [], job
    documents = client.list_documents_in_collection(collection_id, offset=0, limit=10)
    return collection_id, {d.name: d.id for d in documents}


def collection_key(lockgate, owner_key: str, collection_id: str) -> str:
    with httpx.Client(base_url=lockgate.url, headers={"Authorization": f"Bearer {owner_key}"}) as http:
        made = http.post(
            "/v1/me/keys", json={"name": "bot", "collection_id": from_public_id("collection", collection_id)}
        )
    assert made.status_code == 201, made.text
    return made.json()["token"]


def test_metadata_filter_and_document_ids_limit_an_answer_to_those_documents(lockgate, new_user) -> None:
    from h2ogpte.types import SessionError, TagFilter

    alice = new_user()
    client = sdk(lockgate, alice)
    collection_id, ids = tagged_collection(client)
    session_id = client.create_chat_session(collection_id)
    question = "Who signed a contract, and how many paper clips were shipped?"
    with client.connect(session_id) as session:
        cases = (
            ({"branch": "initech"}, {ids["IniTech.txt"]}),
            ({"branch": ["scranton", "elsewhere"], "year": 2005}, {ids["Dunder Mifflin.txt"]}),
            ({"branch": "initech", "year": 2005}, set()),  # keys are ANDed
            ({"year": "2005"}, set()),  # a number is not its text
            (None, set(ids.values())),
        )
        for metadata_filter, expected in cases:
            reply = session.query(
                question,
                llm_args=SHORT,
                rag_config={**RAG, "rag_max_chunks": 8},
                metadata_filter=metadata_filter,
                timeout=TIMEOUT,
            )
            used = {r.document_id for r in client.list_chat_message_references(reply.id)}
            assert used == expected, metadata_filter
        # TagFilter.document_ids: exactly those documents (its tags are then ignored)
        only = TagFilter(include=["absent"], document_ids=[ids["Dunder Mifflin.txt"]])
        reply = session.query(question, llm_args=SHORT, rag_config=RAG, tags=only, timeout=TIMEOUT)
        used = {r.document_id for r in client.list_chat_message_references(reply.id)}
        assert used == {ids["Dunder Mifflin.txt"]}
        with pytest.raises(SessionError) as refused:
            session.query(question, llm_args=SHORT, metadata_filter={"branch": {"$eq": "x"}}, timeout=TIMEOUT)
    assert "metadata_filter.branch" in str(refused.value)
    # the same document scope on the REST completion
    with httpx.Client(base_url=lockgate.url, headers={"Authorization": f"Bearer {alice.key}"}) as http:
        body = {
            "message": question,
            "llm_args": SHORT,
            "rag_config": RAG,
            "tags": {"document_ids": [ids["IniTech.txt"]]},
        }
        answered = http.post(f"/api/v1/chats/{session_id}/completions", json=body, timeout=TIMEOUT)
    assert answered.status_code == 200, answered.text
    used = {r.document_id for r in client.list_chat_message_references(answered.json()["message_id"])}
    assert used == {ids["IniTech.txt"]}


def test_a_collection_key_reads_its_collection_and_nothing_else(lockgate, new_user) -> None:
    from h2ogpte.errors import ForbiddenError, ObjectNotFoundError

    alice = new_user()
    owner = sdk(lockgate, alice)
    collection_id, ids = tagged_collection(owner)
    other_id = owner.create_collection(name="Other", description="")
    outside_session = owner.create_chat_session(other_id)  # the owner's session on another collection
    keyed = sdk(lockgate, collection_key(lockgate, alice.key, collection_id))

    assert keyed.get_collection(collection_id).id == collection_id
    assert keyed.get_default_collection().id == collection_id
    assert keyed.count_documents_in_collection(collection_id) == 2
    documents = keyed.list_documents_in_collection(collection_id, offset=0, limit=10)
    assert {d.id for d in documents} == set(ids.values())
    document = keyed.get_document(ids["IniTech.txt"])
    assert document.name == "IniTech.txt"
    assert keyed.list_document_chunks(ids["IniTech.txt"], collection_id)
    found = keyed.search_chunks(collection_id, "paper clips", topics=[], offset=0, limit=5)
    assert found and {r.topic for r in found} <= set(ids.values())

    session_id = keyed.create_chat_session_on_default_collection()
    with keyed.connect(session_id) as session:
        reply = session.query("Who signed?", llm_args=SHORT, rag_config=RAG, timeout=TIMEOUT)
    assert keyed.list_chat_message_references(reply.id)
    messages = keyed.list_chat_messages(session_id, offset=0, limit=10)
    assert [m.id for m in messages if m.reply_to] == [reply.id]

    refusals = (ForbiddenError, ObjectNotFoundError)
    for call in (
        lambda: keyed.get_collection(other_id),
        lambda: keyed.count_documents_in_collection(other_id),
        lambda: keyed.list_documents_in_collection(other_id, offset=0, limit=10),
        lambda: keyed.search_chunks(other_id, "paper clips", topics=[], offset=0, limit=5),
        lambda: keyed.list_document_chunks(ids["IniTech.txt"], other_id),
        lambda: keyed.create_chat_session(other_id),
        lambda: keyed.list_chat_messages(outside_session, offset=0, limit=10),
        lambda: keyed.list_recent_chat_sessions(offset=0, limit=10),  # listing is the owner's
        lambda: keyed.delete_collections([collection_id]),
        lambda: keyed.create_collection(name="x", description=""),
    ):
        with pytest.raises(refusals):
            call()
    # nothing was changed by the refused calls
    assert owner.count_documents_in_collection(collection_id) == 2


async def test_the_async_class_refuses_as_h2ogpte_does(lockgate, new_user) -> None:
    from h2ogpte import H2OGPTEAsync
    from h2ogpte.errors import ObjectNotFoundError, UnauthorizedError
    from websockets.exceptions import InvalidStatusCode

    alice, bob = new_user(), new_user()
    stranger = H2OGPTEAsync(address=lockgate.url, api_key="sk-wrong")  # the async class checks nothing yet
    for call in (stranger.get_meta, lambda: stranger.list_recent_collections(offset=0, limit=10)):
        with pytest.raises(UnauthorizedError):
            await call()
    client = H2OGPTEAsync(address=lockgate.url, api_key=alice.key, strict_version_check=True)
    intruder = H2OGPTEAsync(address=lockgate.url, api_key=bob.key, strict_version_check=True)
    collection_id = await client.create_collection(name="Mine", description="")
    upload = await client.upload("IniTech.txt", io.BytesIO(INITECH))
    assert (await client.ingest_uploads(collection_id, [upload])).errors == []
    (document,) = await client.list_documents_in_collection(collection_id, offset=0, limit=10)
    session_id = await client.create_chat_session(collection_id)

    missing_collection = to_public_id("collection", 2**40)
    for call in (
        lambda: intruder.get_collection(collection_id),
        lambda: intruder.get_document(document.id),
        lambda: intruder.list_chat_messages(session_id, offset=0, limit=10),
        lambda: intruder.search_chunks(collection_id, "contract", topics=[], offset=0, limit=3),
        lambda: intruder.create_chat_session(collection_id),
        lambda: client.get_collection(missing_collection),
        lambda: client.get_document(to_public_id("document", 2**40)),
        lambda: client.list_chat_messages(to_public_id("chat", 2**40), offset=0, limit=10),
    ):
        with pytest.raises(ObjectNotFoundError):
            await call()
    # The async class's websocket (the legacy `websockets` client) retries a refused handshake with a
    # growing delay (10 times by default, minutes) and then raises the websockets error itself.
    with pytest.raises(InvalidStatusCode) as refused:
        async with intruder.connect(session_id, max_connect_retries=1) as session:
            await session.query("Hi", llm_args=SHORT, timeout=TIMEOUT)
    assert refused.value.status_code == 404
    job = await intruder.delete_collections([collection_id])
    assert job.errors and job.failed > 0
    # alice's objects are untouched
    assert (await client.get_collection(collection_id)).document_count == 1
    assert await client.list_chat_messages(session_id, offset=0, limit=10) == []


def test_answer_question_with_and_without_context(lockgate, new_user) -> None:
    """`answer_question` (its docstring's own example): the question alone, then with texts as context
    and earlier turns; the model's tokens are counted and metered like any call."""
    alice = new_user()
    client = sdk(lockgate, alice)
    bare = client.answer_question(question="Who are you?", llm_args=SHORT, timeout=TIMEOUT)
    assert bare.content and bare.error == "" and bare.llm in client.get_llm_names()
    grounded = client.answer_question(
        question="How many paper clips went to Scranton?",
        text_context_list=[SCRANTON.decode(), INITECH.decode()],
        chat_conversation=[("Hello", "Hi, how can I help?")],
        llm_args=SHORT,
        timeout=TIMEOUT,
    )
    assert grounded.content and grounded.input_tokens > bare.input_tokens > 0 and grounded.output_tokens > 0
    assert "/api/v1/models/auto/answer_question" in usage_endpoints(lockgate, alice.key)
    # a turn that is not a (question, answer) pair (the class checks it too; raw HTTP does not)
    with httpx.Client(base_url=lockgate.url, headers={"Authorization": f"Bearer {alice.key}"}) as http:
        refused = http.post(
            "/api/v1/models/auto/answer_question",
            json={"question": "x", "chat_conversation": [["only one"]]},
            timeout=TIMEOUT,
        )
    assert refused.status_code == 422 and "chat_conversation" in refused.json()["message"]


def test_summarize_and_extract_refuse_only_empty_texts(lockgate, new_user) -> None:
    """Nothing to summarize or extract from is refused naming text_context_list (422, the h2oGPTe
    surface's status for invalid input), before any model call."""
    alice = new_user()
    with httpx.Client(base_url=lockgate.url, headers={"Authorization": f"Bearer {alice.key}"}) as http:
        for route in ("summarize_content", "extract_data"):
            refused = http.post(
                f"/api/v1/models/auto/{route}", json={"text_context_list": ["", ""]}, timeout=TIMEOUT
            )
            assert refused.status_code == 422, (route, refused.text)
            assert "text_context_list" in refused.json()["message"]
    assert not usage_endpoints(lockgate, alice.key)


def test_ingest_from_plain_text(lockgate, new_user) -> None:
    from h2ogpte.errors import ObjectNotFoundError

    alice, bob = new_user(), new_user()
    client, intruder = sdk(lockgate, alice), sdk(lockgate, bob)
    collection_id = client.create_collection(name="Notes", description="")
    job = client.ingest_from_plain_text(
        collection_id, "The vault opens with the word pumpernickel.", "vault.txt", metadata={"kind": "note"}
    )
    assert job.completed and job.errors == [], job
    (document,) = client.list_documents_in_collection(collection_id, offset=0, limit=10)
    assert document.name == "vault.txt"
    assert client.get_document(document.id).meta_data_dict == {"kind": "note"}
    found = client.search_chunks(collection_id, "pumpernickel vault", topics=[], offset=0, limit=3)
    assert found and "pumpernickel" in found[0].text
    with pytest.raises(ObjectNotFoundError):  # another user's collection: refused, nothing left behind
        intruder.ingest_from_plain_text(collection_id, "sneaky", "x.txt")
    assert intruder._get("/rpc/fs") == []
    assert client.count_documents_in_collection(collection_id) == 1


def test_deeply_nested_plain_text_metadata_is_a_422_not_a_500(lockgate, new_user) -> None:
    alice = new_user()
    collection_id = sdk(lockgate, alice).create_collection(name="Deep", description="")
    refused = httpx.post(
        f"{lockgate.url}/api/v1/ingest/plain_text",
        params={"collection_id": collection_id, "file_name": "d.txt", "metadata": "[" * 5_000 + "]" * 5_000},
        content=b"text",
        headers={"Authorization": f"Bearer {alice.key}"},
        timeout=TIMEOUT,
    )
    assert refused.status_code == 422 and "metadata" in refused.json()["message"], refused.text
    assert lockgate.admin.get("/health").status_code == 200


def test_get_chunks_by_the_ids_search_answers(lockgate, new_user) -> None:
    from h2ogpte.errors import ObjectNotFoundError

    alice, bob = new_user(), new_user()
    client = sdk(lockgate, alice)
    collection_id, ids = tagged_collection(client)
    other_id = client.create_collection(name="Empty", description="")
    hits = client.search_chunks(collection_id, "paper clips", topics=[], offset=0, limit=5)
    wanted = [h.id for h in hits][::-1]
    chunks = client.get_chunks(collection_id, wanted)
    assert [c.id for c in chunks] == wanted
    assert {c.text for c in chunks} == {h.text for h in hits} and {c.name for c in chunks} <= set(ids)
    for call in (
        lambda: client.get_chunks(other_id, wanted),  # not chunks of that collection
        lambda: sdk(lockgate, bob).get_chunks(collection_id, wanted),  # another user's collection
    ):
        with pytest.raises(ObjectNotFoundError):
            call()
