"""The h2oGPTe library (collections, uploads + ingest, documents, import/remove, tags, sharing) driven
end to end with the official `h2ogpte.rest_sync` client against a live Lockgate."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

TEXT = (
    "Lockgate is a self-hosted gateway. The lighthouse keeper of Brest counts {n} ships every night.\n\n"
    "Tides in the Iroise sea are strong; the keeper writes them in a red notebook.\n"
)


def _rest():
    import h2ogpte.rest_sync as rest

    return rest


def _status(call) -> int:
    with pytest.raises(_rest().ApiException) as info:
        call()
    return info.value.status


def _finished(jobs, job_id: str):
    """Poll a job as the h2ogpte client does, until it is completed, failed or canceled."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = jobs.get_job(job_id)
        if job.overall_status != "in progress":
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def _collection(user, name: str = "library", **settings):
    rest = _rest()
    request = rest.CollectionCreateRequest(
        name=name,
        description="a test collection",
        collection_settings=rest.CollectionSettings(**settings) if settings else None,
    )
    return user.api("CollectionsApi").create_collection(request)


def _ingest(user, collection_id: str, filename: str = "notes.txt", **options) -> str:
    """Upload + ingest one text file; the public id of the new document."""
    ingestion = user.api("DocumentIngestionApi")
    upload = ingestion.upload_file(file=(filename, TEXT.format(n=uuid.uuid4().hex).encode()))
    assert upload.filename == filename
    ingestion.ingest_upload([upload.id], collection_id, **options)
    documents = user.api("CollectionsApi").list_documents_for_collection(collection_id)
    return next(d.id for d in documents if d.name == filename)


def test_collection_document_flow(new_user):
    rest = _rest()
    owner = new_user()
    collections = owner.api("CollectionsApi")
    documents = owner.api("DocumentsApi")

    first = _collection(owner, "first", max_tokens_per_chunk=128, chunk_overlap_tokens=8)
    assert first.username == owner.username and first.document_count == 0 and not first.is_public
    assert first.embedding_model == "all-minilm-l6-v2"
    settings = collections.get_collection_settings(first.id)
    assert settings.max_tokens_per_chunk == 128 and settings.chunk_overlap_tokens == 8
    collections.update_collection_settings(
        first.id, rest.CollectionSettings(max_tokens_per_chunk=200, gen_doc_questions=False)
    )
    assert collections.get_collection_settings(first.id).max_tokens_per_chunk == 200

    doc_id = _ingest(owner, first.id, "notes.txt", gen_doc_summaries=True, gen_doc_questions=True)
    other_id = _ingest(owner, first.id, "second.md")
    assert collections.get_document_count_for_collection(first.id).count == 2
    document = documents.get_document(doc_id)
    assert document.status == "completed" and document.size > 0 and document.page_count == 1
    assert document.username == owner.username and document.summary
    questions = collections.list_questions_for_collection(first.id, limit=5)
    assert all(q.question for q in questions)
    assert collections.get_collection(first.id).document_count == 2

    page = collections.list_documents_for_collection(first.id, offset=1, limit=1)
    assert len(page) == 1
    assert {d.id for d in documents.list_documents(sort_column="name", ascending=True)} >= {doc_id, other_id}
    assert documents.get_document_count().count == 2

    renamed = documents.update_document(doc_id, rest.DocumentUpdateRequest(name="renamed.txt"))
    assert renamed.name == "renamed.txt" and renamed.id == doc_id
    updated = collections.update_collection(
        first.id, rest.CollectionUpdateRequest(name="first!", rag_type="rag")
    )
    assert updated.name == "first!" and updated.rag_type == "rag"

    # The same document "in" a second collection: one public id, two collections.
    second = _collection(owner, "second")
    collections.insert_document_into_collection(second.id, doc_id)
    collections.insert_document_into_collection(second.id, doc_id)  # idempotent
    assert [d.id for d in collections.list_documents_for_collection(second.id)] == [doc_id]
    held = {c.id for c in documents.list_collections_for_document(doc_id)}
    assert held == {first.id, second.id}
    assert documents.get_document_count().count == 2
    collections.delete_document_from_collection(first.id, doc_id)
    assert {c.id for c in documents.list_collections_for_document(doc_id)} == {second.id}
    assert documents.get_document(doc_id).name == "renamed.txt"
    assert _status(lambda: collections.delete_document_from_collection(first.id, doc_id)) == 404

    listed = collections.list_collections(sort_column="name", ascending=True)
    assert [c.name for c in listed] == ["first!", "second"]
    assert collections.get_collection_count().count == 2
    assert [c.name for c in collections.list_collections(offset=1, limit=1, sort_column="name")] == ["first!"]

    documents.delete_document(other_id)
    assert _status(lambda: documents.get_document(other_id)) == 404
    collections.delete_collection(first.id)
    assert _status(lambda: collections.get_collection(first.id)) == 404
    assert collections.get_collection_count().count == 1


def test_tags(new_user):
    rest = _rest()
    user = new_user()
    tags = user.api("TagsApi")
    documents = user.api("DocumentsApi")
    collection = _collection(user, "tagged")
    doc_id = _ingest(user, collection.id)
    untagged = _ingest(user, collection.id, "plain.txt")

    created = tags.create_tag(rest.TagCreateRequest(name="red"))
    assert created.name == "red"
    assert _status(lambda: tags.create_tag(rest.TagCreateRequest(name="red"))) == 409
    on_doc = documents.create_tag_on_document(doc_id, rest.TagCreateRequest(name="red"))
    assert on_doc.id == created.id
    documents.create_tag_on_document(doc_id, rest.TagCreateRequest(name="blue"))  # created on the fly
    assert sorted(t.name for t in tags.list_tags()) == ["blue", "red"]
    updated = tags.update_tag("red", rest.TagUpdateRequest(description="urgent", format="text"))
    assert updated.description == "urgent" and tags.get_tag("red").format == "text"

    tagged = tags.list_documents_for_tags(["red", "blue"], collection.id)
    assert [d.id for d in tagged] == [doc_id] and untagged != doc_id
    removed = documents.delete_tag_from_document(doc_id, "red")
    assert removed.tag_id == created.id
    assert tags.list_documents_for_tags(["red"], collection.id) == []
    assert [t.name for t in tags.list_tags(linked_only=True)] == ["blue"]
    assert _status(lambda: tags.get_tag("missing")) == 404
    # Tags are per user.
    assert new_user().api("TagsApi").list_tags() == []


def test_sharing(new_user):
    owner, friend, stranger = new_user(), new_user(), new_user()
    collections = owner.api("CollectionsApi")
    collection = _collection(owner, "shared")
    doc_id = _ingest(owner, collection.id)

    assert _status(lambda: friend.api("CollectionsApi").get_collection(collection.id)) == 404
    collections.share_collection(collection.id, friend.username)
    collections.share_collection(collection.id, friend.username)  # idempotent
    permissions = collections.get_collection_permissions(collection.id)
    assert [p.username for p in permissions] == [owner.username, friend.username]
    assert collections.get_collection(collection.id).user_count == 2

    seen = friend.api("CollectionsApi").get_collection(collection.id)
    assert seen.username == owner.username
    assert [d.id for d in friend.api("CollectionsApi").list_documents_for_collection(collection.id)] == [
        doc_id
    ]
    assert friend.api("DocumentsApi").get_document(doc_id).id == doc_id
    assert collection.id in {c.id for c in friend.api("CollectionsApi").list_collections()}
    # Shared means readable, not writable.
    assert _status(lambda: friend.api("CollectionsApi").delete_collection(collection.id)) == 403
    assert (
        _status(lambda: friend.api("CollectionsApi").share_collection(collection.id, stranger.username))
        == 403
    )
    assert _status(lambda: friend.api("DocumentsApi").delete_document(doc_id)) == 403
    # A shared collection is searchable on the OpenGateLLM surface too.
    hits = httpx.post(
        f"{friend.client.configuration.host.removesuffix('/api/v1')}/v1/search",
        headers={"Authorization": f"Bearer {friend.key}"},
        json={"query": "lighthouse keeper", "method": "lexical"},
    )
    assert hits.status_code == 200, hits.text
    assert hits.json()["data"], "the shared collection's chunks are searchable by the friend"

    assert _status(lambda: stranger.api("CollectionsApi").get_collection(collection.id)) == 404
    assert _status(lambda: stranger.api("DocumentsApi").get_document(doc_id)) == 404
    assert _status(lambda: collections.share_collection(collection.id, "nobody@example.org")) == 404

    # The friend starts a chat on the shared collection...
    rest = _rest()
    friend_chat = friend.api("ChatApi")
    chat = friend_chat.create_chat_session(collection_id=collection.id)
    collections.unshare_collection(collection.id, friend.username)
    assert _status(lambda: friend.api("CollectionsApi").get_collection(collection.id)) == 404
    # ...and once unshared, that session can no longer read the collection, whatever the RAG type.
    for rag_type in ("rag", "all_data"):
        request = rest.ChatCompletionRequest(
            message="Who keeps the lighthouse?",
            llm_args={"max_new_tokens": 8},
            rag_config={"rag_type": rag_type},
        )
        assert _status(lambda r=request: friend_chat.get_completion(chat.id, r)) == 404
    collections.share_collection(collection.id, friend.username)
    collections.share_collection(collection.id, stranger.username)
    collections.unshare_collection_for_all(collection.id)
    assert [p.username for p in collections.get_collection_permissions(collection.id)] == [owner.username]
    assert _status(lambda: stranger.api("DocumentsApi").get_document(doc_id)) == 404


def test_unhappy_paths(new_user, lockgate):
    rest = _rest()
    user, other = new_user(), new_user()
    collection = _collection(user, "mine")
    collections = other.api("CollectionsApi")
    assert _status(lambda: collections.get_collection(collection.id)) == 404
    assert (
        _status(lambda: collections.update_collection(collection.id, rest.CollectionUpdateRequest(name="x")))
        == 404
    )
    assert _status(lambda: collections.delete_collection(collection.id)) == 404
    assert _status(lambda: user.api("CollectionsApi").get_collection("not-a-uuid")) == 404
    assert _status(lambda: user.api("CollectionsApi").get_collection(str(uuid.uuid4()))) == 404
    assert _status(lambda: user.api("DocumentsApi").get_document(collection.id)) == 404  # wrong kind

    from tests.contract_h2ogpte.conftest import MAX_UPLOAD_BYTES, rest_client

    bad = rest.CollectionsApi(rest_client(lockgate, "sk-wrong"))
    assert _status(lambda: bad.list_collections()) == 401

    base = f"{lockgate.url}/api/v1"
    auth = {"Authorization": f"Bearer {user.key}"}
    missing_name = httpx.post(f"{base}/collections", headers=auth, json={"description": "d"})
    assert missing_name.status_code == 422 and "name" in missing_name.json()["message"]
    bad_settings = httpx.put(
        f"{base}/collections/{collection.id}/settings", headers=auth, json={"max_tokens_per_chunk": "many"}
    )
    assert bad_settings.status_code == 422 and "max_tokens_per_chunk" in bad_settings.json()["message"]
    bad_sort = httpx.get(f"{base}/collections", headers=auth, params={"sort_column": "nope"})
    assert bad_sort.status_code == 422 and "sort_column" in bad_sort.json()["message"]
    bad_limit = httpx.get(f"{base}/documents", headers=auth, params={"limit": -1})
    assert bad_limit.status_code == 422 and "limit" in bad_limit.json()["message"]
    no_file = httpx.put(f"{base}/uploads", headers=auth)
    assert no_file.status_code == 422 and "file" in no_file.json()["message"]

    ingestion = user.api("DocumentIngestionApi")
    huge = b"x" * (MAX_UPLOAD_BYTES + 1)
    assert _status(lambda: ingestion.upload_file(file=("huge.txt", huge))) == 413
    upload = ingestion.upload_file(file=("a.txt", b"some words to ingest"))
    assert _status(lambda: other.api("DocumentIngestionApi").ingest_upload([upload.id], collection.id)) == 404
    intruder = httpx.post(
        f"{base}/uploads/{upload.id}/ingest",
        headers={"Authorization": f"Bearer {other.key}"},
        params={"collection_id": collection.id},
    )
    # named by its position in the request, never by the internal row id behind the public one
    assert intruder.status_code == 404 and "Upload 1 of upload_ids not found" in intruder.json()["message"]
    theirs = _collection(other, "theirs")
    assert _status(lambda: ingestion.ingest_upload([upload.id], theirs.id)) == 404
    assert _status(lambda: ingestion.ingest_upload(["garbage"], collection.id)) == 404
    ingestion.ingest_upload([upload.id], collection.id)
    assert _status(lambda: ingestion.ingest_upload([upload.id], collection.id)) == 404  # consumed


def test_bad_input_is_4xx_never_500(new_user, lockgate):
    rest = _rest()
    user = new_user()
    collection = _collection(user, "robust")
    collections = user.api("CollectionsApi")
    base = f"{lockgate.url}/api/v1"
    auth = {"Authorization": f"Bearer {user.key}"}
    assert _status(lambda: collections.insert_document_into_collection(collection.id, "garbage")) == 404
    assert _status(lambda: collections.share_collection(collection.id, user.username)) == 409
    assert _status(lambda: user.api("TagsApi").create_tag(rest.TagCreateRequest(name=" "))) == 422
    checks = [
        httpx.patch(f"{base}/collections/{collection.id}", headers=auth, json={"name": 5}),
        httpx.patch(f"{base}/collections/{collection.id}", headers=auth, json={"rag_type": "magic"}),
        httpx.post(f"{base}/collections", headers=auth, content=b"not json"),
        httpx.get(f"{base}/collections/{collection.id}/questions", headers=auth, params={"limit": 0}),
        httpx.get(f"{base}/collections", headers=auth, params={"offset": "x"}),
        httpx.get(f"{base}/collections", headers=auth, params={"limit": 10**12}),
        httpx.post(f"{base}/uploads/{collection.id}/ingest", headers=auth, params={"collection_id": "x"}),
        httpx.get(f"{base}/tags/red/documents", headers=auth),
        httpx.post(f"{base}/documents/{collection.id}/tags", headers=auth, json={}),
    ]
    for response in checks:
        assert 400 <= response.status_code < 500, (response.request.url, response.text)
        assert set(response.json()) >= {"code", "message"}

    ingestion = user.api("DocumentIngestionApi")
    broken = ingestion.upload_file(file=("broken.pdf", b"%PDF-1.4 this is not really a pdf"))
    assert 400 <= _status(lambda: ingestion.ingest_upload([broken.id], collection.id)) < 500
    empty = ingestion.upload_file(file=("empty.txt", b""))
    status = None
    try:
        ingestion.ingest_upload([empty.id], collection.id)
    except rest.ApiException as exc:
        status = exc.status
    assert status is None or 400 <= status < 500


def test_ingest_job(new_user):
    user = new_user()
    collection = _collection(user, "jobs", chunk_by_page=True)
    ingestion = user.api("DocumentIngestionApi")
    jobs = user.api("JobsApi")
    first = ingestion.upload_file(file=("one.txt", TEXT.format(n=1).encode()))
    second = ingestion.upload_file(file=("two.txt", TEXT.format(n=2).encode()))
    queued = ingestion.create_ingest_upload_job([first.id, second.id], collection.id)
    assert queued.kind == "IngestUploadsJob" and queued.files_total == 2  # answered before it is done
    job = _finished(jobs, queued.id)
    assert job.overall_status == "completed" and job.progress == 1 and len(job.statuses) == 2
    assert job.id in {j.id for j in jobs.list_jobs()}
    assert user.api("CollectionsApi").get_document_count_for_collection(collection.id).count == 2

    broken = ingestion.upload_file(file=("broken.pdf", b"%PDF-1.4 not a pdf"))
    failed = _finished(jobs, ingestion.create_ingest_upload_job([broken.id], collection.id).id)
    assert failed.overall_status == "failed" and failed.errors
    assert _status(lambda: new_user().api("JobsApi").get_job(job.id)) == 404
