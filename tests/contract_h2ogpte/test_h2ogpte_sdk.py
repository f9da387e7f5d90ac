"""The unchanged `H2OGPTE` class against a live Lockgate (SQLite and PostgreSQL, real local models):
the README quickstart — construct with the version check on, create a collection, upload, ingest,
list, create a session, `connect` + `query` over the websocket with a streaming callback — and the
refusals h2oGPTe gives a wrong key, another user's session and a collection key."""

from __future__ import annotations

import io

import httpx
import pytest

from tests.contract_h2ogpte.conftest import H2oUser

SHORT = {"max_new_tokens": 16, "temperature": 0}
SCRANTON = b"There were 55 paper clips shipped, 22 to Scranton and 33 to Filmer."
INITECH = b"David Brent did not sign any contract with Initech."
TIMEOUT = 300  # seconds: the machine may be busy; never a timing assert


def usage_endpoints(lockgate, key: str) -> set[str]:
    """The endpoints of the caller's recorded usage (read back through /v1/me/usage)."""
    with httpx.Client(
        base_url=lockgate.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        rows = client.get("/v1/me/usage", params={"limit": 100}).json()["data"]
    return {row["endpoint"] for row in rows}


def sdk(lockgate, user_or_key: H2oUser | str):
    from h2ogpte import H2OGPTE

    key = user_or_key if isinstance(user_or_key, str) else user_or_key.key
    return H2OGPTE(address=lockgate.url, api_key=key, strict_version_check=True)


def quickstart_collection(client) -> tuple[str, list[str]]:
    """The README's collection: two uploads ingested with `ingest_uploads` (a job polled to the end)."""
    from h2ogpte.types import JobKind

    collection_id = client.create_collection(name="Contracts", description="Paper clip supply contracts")
    uploads = [
        client.upload("Dunder Mifflin.txt", io.BytesIO(SCRANTON)),
        client.upload("IniTech.txt", io.BytesIO(INITECH)),
    ]
    # (the class's list_upload() cannot read any answer: it parses the JSON, then asks it for a status)
    pending = client._get("/rpc/fs")
    assert sorted(pending) == sorted(uploads)
    job = client.ingest_uploads(collection_id, uploads)
    assert job.completed and not job.canceled and job.errors == [], job
    assert job.kind == JobKind.IngestUploadsJob and job.progress == 1
    assert client._get("/rpc/fs") == []  # ingested uploads are gone
    documents = client.list_documents_in_collection(collection_id, offset=0, limit=99)
    assert sorted(d.name for d in documents) == ["Dunder Mifflin.txt", "IniTech.txt"]
    return collection_id, [d.id for d in documents]


def test_a_file_that_cannot_be_read_fails_alone_in_an_ingest_job(lockgate, new_user) -> None:
    """ingest_uploads judges each file: an unreadable one is a line of the job's errors, the others are
    ingested (the first bad file used to end the job and drop the good uploads after it unread); a
    filename past 255 characters keeps its suffix, so its type is still known."""
    client = sdk(lockgate, new_user())
    collection_id = client.create_collection(name="Mixed", description="one bad file")
    long = "L" * 300 + ".txt"
    uploads = [
        client.upload("broken.pdf", io.BytesIO(b"%PDF-1.4 not really a pdf")),
        client.upload(long, io.BytesIO(SCRANTON)),
    ]
    job = client.ingest_uploads(collection_id, uploads)
    assert job.completed and len(job.errors) == 1 and job.errors[0].startswith("broken.pdf: "), job
    assert (job.passed, job.failed) == (0.5, 0.5)
    documents = client.list_documents_in_collection(collection_id, offset=0, limit=9)
    assert [d.name for d in documents] == ["L" * 251 + ".txt"]
    assert client._get("/rpc/fs") == []  # both uploads gone: one ingested, one refused


def test_constructs_with_the_version_check_and_reports_the_caller(lockgate, new_user) -> None:
    alice = new_user()
    client = sdk(lockgate, alice)  # strict: a version mismatch would raise RuntimeError
    meta = client.get_meta()
    assert meta.email == alice.username and meta.username == alice.username
    assert meta.user_id == str(alice.user_id) and meta.license_expired is False


def test_a_wrong_key_is_refused_at_construction(lockgate) -> None:
    from h2ogpte.errors import UnauthorizedError

    with pytest.raises(UnauthorizedError):
        sdk(lockgate, "not-a-key")


def test_quickstart_upload_ingest_and_streamed_rag_answer(lockgate, new_user) -> None:
    from h2ogpte.types import ChatMessage, PartialChatMessage

    alice = new_user()
    client = sdk(lockgate, alice)
    collection_id, document_ids = quickstart_collection(client)
    collection = client.get_collection(collection_id)
    assert collection.document_count == 2 and collection.name == "Contracts"

    chat_session_id = client.create_chat_session(collection_id)
    received: list[ChatMessage | PartialChatMessage] = []
    with client.connect(chat_session_id) as session:
        reply = session.query(
            "How many paper clips were shipped to Scranton?",
            llm_args=SHORT,
            rag_config={"rag_type": "rag"},
            timeout=TIMEOUT,
            callback=received.append,
        )
        second = session.query("And to Filmer?", llm_args=SHORT, timeout=TIMEOUT)
    assert isinstance(reply, ChatMessage) and reply.content
    partials = [m for m in received if isinstance(m, PartialChatMessage)]
    assert partials, "the callback got no partial message before the answer"
    assert received[-1] == reply and all(isinstance(m, PartialChatMessage) for m in received[:-1])
    assert "".join(p.content for p in partials).strip() == reply.content
    assert all(p.reply_to == reply.reply_to for p in partials)

    # The answer is stored, with the references that were in its prompt, like a REST completion.
    references = client.list_chat_message_references(reply.id)
    assert references and {r.document_id for r in references} <= set(document_ids)
    messages = client.list_chat_messages(chat_session_id, offset=0, limit=10)
    assert [m.id for m in messages if m.reply_to] == [reply.id, second.id]
    assert {m.id for m in messages} >= {reply.reply_to, second.reply_to}
    sessions = client.list_recent_chat_sessions(offset=0, limit=10)
    assert [s.id for s in sessions] == [chat_session_id]

    # The websocket's model calls were metered, as the caller's.
    assert "/ws" in usage_endpoints(lockgate, alice.key)


def test_chat_without_a_collection_and_llm_auto(lockgate, new_user) -> None:
    alice = new_user()
    client = sdk(lockgate, alice)
    chat_session_id = client.create_chat_session()
    with client.connect(chat_session_id) as session:
        reply = session.query(
            "Why is drinking water good for you?", llm="auto", llm_args=SHORT, timeout=TIMEOUT
        )
    assert reply.content
    assert client.list_chat_message_references(reply.id) == []


def test_models_summaries_extraction_search_and_usage(lockgate, new_user) -> None:
    alice = new_user()
    client = sdk(lockgate, alice)
    llms = client.get_llms()
    names = [m["display_name"] for m in llms]
    assert names == client.get_llm_names() and "ghost" in names
    embedding = client.list_embedding_models()
    assert embedding
    vectors = client.encode_for_retrieval(["paper clips", "contracts"])
    assert len(vectors) == 2 and len(vectors[0]) == len(vectors[1]) > 0

    summary = client.summarize_content(
        text_context_list=[SCRANTON.decode(), INITECH.decode()], llm_args=SHORT, timeout=TIMEOUT
    )
    assert summary.content and summary.llm in names and summary.input_tokens > 0
    extracted = client.extract_data(
        text_context_list=[SCRANTON.decode(), INITECH.decode()],
        prompt_extract="List the people named.",
        llm_args=SHORT,
        timeout=TIMEOUT,
    )
    assert len(extracted.content) == 2 and all(isinstance(c, str) for c in extracted.content)

    collection_id, _ = quickstart_collection(client)
    by_name = {d.name: d.id for d in client.list_documents_in_collection(collection_id, offset=0, limit=10)}
    results = client.search_chunks(collection_id, "paper clips Scranton", topics=[], offset=0, limit=5)
    assert (
        results and results[0].name == "Dunder Mifflin.txt" and results[0].topic == by_name[results[0].name]
    )
    only = client.search_chunks(
        collection_id, "paper clips", topics=[by_name["IniTech.txt"]], offset=0, limit=5
    )
    assert only and {r.name for r in only} == {"IniTech.txt"}

    document = client.get_document(by_name["IniTech.txt"])
    assert document.name == "IniTech.txt" and document.id == by_name["IniTech.txt"]
    processed = client.summarize_document(document_id=document.id, llm_args=SHORT, timeout=TIMEOUT)
    assert processed.content and processed.document_id == document.id

    assert client.get_llm_usage_24h() >= 0
    usage = client.get_llm_usage_24h_by_llm()
    assert usage and sum(u.call_count for u in usage) >= 3 and all(u.llm_name for u in usage)


def test_deletes_sessions_messages_documents_and_collections(lockgate, new_user) -> None:
    from h2ogpte.errors import ObjectNotFoundError

    alice = new_user()
    client = sdk(lockgate, alice)
    collection_id, document_ids = quickstart_collection(client)
    # import a document into a second collection (a job), and read its chunks there
    second = client.create_collection(name="Second", description="")
    job = client.import_document_into_collection(second, document_ids[0])
    assert job.completed and job.errors == []
    chunks = client.list_document_chunks(document_ids[0], second)
    assert chunks and all(c.topic == document_ids[0] for c in chunks)
    assert {c.name for c in chunks} <= {"Dunder Mifflin.txt", "IniTech.txt"} and all(c.text for c in chunks)
    chat_session_id = client.create_chat_session(collection_id)
    with client.connect(chat_session_id) as session:
        reply = session.query("Hi", llm_args=SHORT, timeout=TIMEOUT)
    assert client.delete_chat_messages([reply.id, reply.reply_to]).status == "completed"
    assert client.list_chat_messages(chat_session_id, offset=0, limit=10) == []
    job = client.delete_chat_sessions([chat_session_id])
    assert job.completed and job.errors == []
    assert client.list_recent_chat_sessions(offset=0, limit=10) == []

    job = client.delete_documents_from_collection(collection_id, document_ids[:1])
    assert job.completed and job.errors == []
    assert client.count_documents_in_collection(collection_id) == 1
    job = client.delete_documents(document_ids[1:])
    assert job.completed and job.errors == []
    assert client.count_documents_in_collection(collection_id) == 0
    job = client.delete_collections([collection_id, second])
    assert job.completed and job.errors == [] and (job.passed, job.failed) == (1.0, 0.0)
    with pytest.raises(ObjectNotFoundError):
        client.get_collection(collection_id)


def test_jobs_report_what_failed_and_other_users_objects_stay_out_of_reach(lockgate, new_user) -> None:
    from h2ogpte.errors import ObjectNotFoundError

    alice, bob = new_user(), new_user()
    client, intruder = sdk(lockgate, alice), sdk(lockgate, bob)
    collection_id, document_ids = quickstart_collection(client)
    chat_session_id = client.create_chat_session(collection_id)
    alices_job = client.delete_documents([])

    job = intruder.delete_collections([collection_id])
    assert job.completed and job.errors and job.failed > 0
    assert (job.passed, job.failed) == (0.0, 1.0)  # a failed item is not also counted as passed
    job = intruder.delete_documents(document_ids)
    assert job.completed and job.errors
    assert job.passed + job.failed == 1.0 and job.passed == 0.0
    job = intruder.delete_chat_sessions([chat_session_id])
    assert job.completed and job.errors
    for call in (
        lambda: intruder.get_collection(collection_id),
        lambda: intruder.list_chat_messages(chat_session_id, offset=0, limit=10),
        lambda: intruder.search_chunks(collection_id, "paper", topics=[], offset=0, limit=5),
        lambda: intruder.summarize_document(document_id=document_ids[0], timeout=TIMEOUT),
        lambda: intruder.get_job(alices_job.id),
    ):
        with pytest.raises(ObjectNotFoundError):  # another user's objects are not found
            call()
    # nothing of alice's was touched
    assert client.count_documents_in_collection(collection_id) == 2
    assert [s.id for s in client.list_recent_chat_sessions(offset=0, limit=10)] == [chat_session_id]


def test_features_lockgate_does_not_serve_are_a_clear_501(lockgate, new_user) -> None:
    from h2ogpte.errors import HTTPError

    client = sdk(lockgate, new_user())
    with pytest.raises(HTTPError) as refused:
        client.list_extractors(offset=0, limit=10)
    assert refused.value.status_code == 501 and "not serve" in refused.value.message


async def test_the_async_class_runs_the_same_flow(lockgate, new_user) -> None:
    from h2ogpte import H2OGPTEAsync
    from h2ogpte.types import ChatMessage, JobKind, PartialChatMessage

    alice = new_user()
    client = H2OGPTEAsync(address=lockgate.url, api_key=alice.key, strict_version_check=True)
    assert (await client.get_meta()).email == alice.username
    collection_id = await client.create_collection(name="Contracts", description="Paper clips")
    upload_ids = [
        await client.upload("Dunder Mifflin.txt", io.BytesIO(SCRANTON)),
        await client.upload("IniTech.txt", io.BytesIO(INITECH)),
    ]
    job = await client.ingest_uploads(collection_id, upload_ids)
    assert job.completed and job.errors == [] and job.kind == JobKind.IngestUploadsJob
    documents = await client.list_documents_in_collection(collection_id, offset=0, limit=10)
    assert sorted(d.name for d in documents) == ["Dunder Mifflin.txt", "IniTech.txt"]
    assert (await client.get_collection(collection_id)).document_count == 2

    chat_session_id = await client.create_chat_session(collection_id)
    received: list = []
    async with client.connect(chat_session_id) as session:
        reply = await session.query(
            "How many paper clips were shipped to Scranton?",
            llm_args=SHORT,
            timeout=TIMEOUT,
            callback=received.append,
        )
    assert isinstance(reply, ChatMessage) and reply.content
    partials = [m for m in received if isinstance(m, PartialChatMessage)]
    assert partials and "".join(p.content for p in partials).strip() == reply.content
    assert await client.list_chat_message_references(reply.id)
    messages = await client.list_chat_messages(chat_session_id, offset=0, limit=10)
    assert [m.id for m in messages if m.reply_to] == [reply.id]
    assert [m["display_name"] for m in await client.get_llms()]
    summary = await client.summarize_content(text_context_list=[SCRANTON.decode()], llm_args=SHORT)
    assert summary.content
    results = await client.search_chunks(collection_id, "paper clips", topics=[], offset=0, limit=3)
    assert results
    job = await client.delete_collections([collection_id])
    assert job.completed and job.errors == []
