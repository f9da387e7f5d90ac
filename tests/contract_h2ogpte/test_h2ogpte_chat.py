"""h2oGPTe chat contract: sessions, completions with every rag_type, messages, references, meta,
questions, prompt templates and collection keys, driven by the official `h2ogpte.rest_sync` client
against a live Lockgate with real local models. Collections are seeded over the OpenGateLLM surface."""

from __future__ import annotations

import io
import json

import httpx
import pytest

from lockgate.api.h2ogpte.common import to_public_id
from tests.contract_h2ogpte.conftest import H2oUser, rest_client

SHORT = {"max_new_tokens": 16, "temperature": 0}
TEXT = (
    "# Lighthouses\n\nThe Eddystone lighthouse stands on rocks south of Plymouth. It was rebuilt four times; "
    "the current tower was designed by James Douglass and lit in 1882.\n\n"
    "# Tea\n\nGreen tea is steamed or pan-fired soon after picking, which stops oxidation. Black tea is "
    "fully oxidised before drying, giving it a darker colour and stronger taste.\n"
)


def http(lockgate, key: str) -> httpx.Client:
    return httpx.Client(base_url=lockgate.url, headers={"Authorization": f"Bearer {key}"}, timeout=120)


def seed_collection(lockgate, user: H2oUser) -> tuple[int, int]:
    """A collection with one small document, created over /v1: (collection id, document id)."""
    with http(lockgate, user.key) as client:
        created = client.post("/v1/collections", json={"name": f"chat-{user.user_id}"})
        assert created.status_code == 201, created.text
        collection_id = created.json()["id"]
        files = {"file": ("notes.md", io.BytesIO(TEXT.encode()), "text/markdown")}
        uploaded = client.post("/v1/documents", data={"collection_id": str(collection_id)}, files=files)
        assert uploaded.status_code == 201, uploaded.text
        return collection_id, uploaded.json()["id"]


def ask(chat, session_id: str, message: str, **kwargs):
    import h2ogpte.rest_sync as rest

    request = rest.ChatCompletionRequest(message=message, llm_args=SHORT, **kwargs)
    return chat.get_completion(session_id, request)


def test_sessions_completions_for_every_rag_type_messages_references_and_meta(lockgate, new_user) -> None:
    import h2ogpte.rest_sync as rest

    alice = new_user()
    chat = alice.api("ChatApi")
    collection_id, document_id = seed_collection(lockgate, alice)
    public_collection = to_public_id("collection", collection_id)

    plain = chat.create_chat_session()
    assert plain.collection_id is None and plain.username == alice.username
    answer = ask(chat, plain.id, "Say hello.", rag_config={"rag_type": "rag"})
    assert answer.message_id and isinstance(answer.body, str)
    assert chat.get_message_references(answer.message_id) == []  # no collection: llm_only

    session = chat.create_chat_session(collection_id=public_collection)
    assert session.collection_id == public_collection and session.collection_name
    for rag_type in ("llm_only", "rag", "hyde1", "hyde2", "rag+", "all_data", "auto"):
        answer = ask(
            chat, session.id, "When was the Eddystone lighthouse lit?", rag_config={"rag_type": rag_type}
        )
        meta = {m.message_type: m.content for m in chat.get_message_meta(answer.message_id)}
        assert {"prompt_raw", "usage_stats"} <= set(meta), rag_type
        assert json.loads(meta["usage_stats"])["input_tokens"] > 0
        references = chat.get_message_references(answer.message_id)
        if rag_type == "llm_only":
            assert references == [] and "Eddystone" not in meta["prompt_raw"].split("<|user|>")[0]
            continue
        assert references, rag_type
        for reference in references:
            assert reference.content and reference.content in meta["prompt_raw"], rag_type
            assert reference.document_id == to_public_id("document", document_id)
            assert reference.document_name == "notes.md" and reference.were_references_deleted is False
        if rag_type in ("hyde1", "hyde2"):
            assert "hyde1" in meta and "llm_only" in meta
        only = chat.get_message_meta(answer.message_id, info_type="prompt_raw")
        assert [m.message_type for m in only] == ["prompt_raw"]

    messages = chat.get_chat_session_messages(session.id, limit=100)
    assert len(messages) == 14
    questions = [m for m in messages if m.reply_to is None]
    answers = [m for m in messages if m.reply_to is not None]
    assert {a.reply_to for a in answers} == {q.id for q in questions}
    assert all(a.has_references == (a.total_references > 0) for a in answers)
    assert sum(a.has_references for a in answers) == 6
    assert all("usage_stats" in {t.message_type for t in a.type_list} for a in answers)
    assert all(not q.type_list for q in questions)

    suggested = chat.list_questions_for_chat_session(session.id, limit=2)
    assert isinstance(suggested, list) and len(suggested) <= 2

    renamed = chat.update_chat_session(session.id, rest.ChatSessionUpdateRequest(name="lighthouses"))
    assert renamed.name == "lighthouses" and renamed.latest_message_content
    assert chat.get_chat_session(session.id).name == "lighthouses"
    assert {s.id for s in chat.list_chat_sessions()} == {plain.id, session.id}
    assert chat.get_chat_session_count().count == 2
    collections = alice.api("CollectionsApi")
    assert collections.get_chat_session_count_for_collection(public_collection).count == 1
    assert [s.id for s in collections.list_chat_sessions_for_collection(public_collection)] == [session.id]
    documents = alice.api("DocumentsApi")
    public_document = to_public_id("document", document_id)
    assert documents.get_chat_session_count_for_document(public_document).count == 1
    assert [s.id for s in documents.list_chat_sessions_for_document(public_document)] == [session.id]

    moved = chat.update_chat_session_collection(
        plain.id, rest.CollectionChangeRequest(collection_id=public_collection)
    )
    assert moved.collection_id == public_collection
    assert chat.delete_chat_session_collection(plain.id).collection_id is None
    chat.delete_chat_session(plain.id)
    with pytest.raises(rest.ApiException) as gone:
        chat.get_chat_session(plain.id)
    assert gone.value.status == 404
    assert chat.get_chat_session_count().count == 1


def test_llm_args_self_reflection_and_history(lockgate, new_user) -> None:
    alice = new_user()
    chat = alice.api("ChatApi")
    session = chat.create_chat_session()
    answer = ask(
        chat,
        session.id,
        "Name a colour.",
        system_prompt="You answer in one word.",
        rag_config={"rag_type": "llm_only"},
        self_reflection_config={"llm_reflection": "smollm2-135m-instruct", "llm_args_reflection": SHORT},
    )
    meta = {m.message_type: m.content for m in chat.get_message_meta(answer.message_id)}
    assert "You answer in one word." in meta["prompt_raw"]
    assert json.loads(meta["self_reflection"])["reflection"]
    second = ask(chat, session.id, "Another one?", include_chat_history="true")
    raw = chat.get_message_meta(second.message_id, info_type="prompt_raw")[0].content
    assert "Name a colour." in raw and "Another one?" in raw


def test_guided_choice_and_sampling_llm_args_reach_the_local_engine(lockgate, new_user) -> None:
    import h2ogpte.rest_sync as rest

    chat = new_user().api("ChatApi")
    session = chat.create_chat_session()
    for seed in (1, 2, 3):
        request = rest.ChatCompletionRequest(
            message="Is the sky green?",
            rag_config={"rag_type": "llm_only"},
            llm_args={
                "max_new_tokens": 8,
                "temperature": 1.0,
                "top_k": 40,
                "repetition_penalty": 1.1,
                "seed": seed,
                "guided_choice": ["yes", "no"],
            },
        )
        assert chat.get_completion(session.id, request).body in {"yes", "no"}  # the grammar held
    regex = rest.ChatCompletionRequest(
        message="Hi",
        rag_config={"rag_type": "llm_only"},
        llm_args={"max_new_tokens": 8, "guided_regex": "a+"},
    )
    with pytest.raises(rest.ApiException) as refused:
        chat.get_completion(session.id, regex)
    assert refused.value.status == 400 and "guided_regex" in refused.value.body


def test_streamed_completion_is_json_lines_of_deltas_then_the_full_answer(lockgate, new_user) -> None:
    """The spec's `stream: true` (the REST client has no field for it, so raw HTTP): deltas with
    finished false, then one line with the message id, the whole answer and finished true."""
    import h2ogpte.rest_sync as rest

    alice = new_user()
    collection_id, _ = seed_collection(lockgate, alice)
    chat = alice.api("ChatApi")
    session = chat.create_chat_session(collection_id=to_public_id("collection", collection_id))
    body = {
        "message": "What is black tea?",
        "llm_args": SHORT,
        "rag_config": {"rag_type": "rag"},
        "stream": True,
    }
    with http(lockgate, alice.key) as client:
        response = client.post(f"/api/v1/chats/{session.id}/completions", json=body)
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "application/jsonl"
        )
        lines = [rest.ChatCompletionDelta.from_json(line) for line in response.text.splitlines() if line]
        assert lines[-1].finished and not any(d.finished for d in lines[:-1]) and len(lines) > 1
        assert "".join(d.body for d in lines[:-1]).strip() == lines[-1].body
        assert chat.get_message_references(lines[-1].message_id)
        usage = chat.get_message_meta(lines[-1].message_id, info_type="usage_stats")[0].content
        assert json.loads(usage)["output_tokens"] > 0
        refused = client.post(f"/api/v1/chats/{to_public_id('chat', 999999)}/completions", json=body)
        assert refused.status_code == 404


def test_prompt_templates_crud_share_and_apply(lockgate, new_user) -> None:
    import h2ogpte.rest_sync as rest

    alice, bob = new_user(), new_user()
    templates = alice.api("PromptTemplatesApi")
    before = templates.get_prompt_template_count().count
    created = templates.create_prompt_template(
        rest.PromptTemplateCreateRequest(
            name="pirate", system_prompt="You are a pirate.", default_sample_questions=["Ahoy?"]
        )
    )
    assert created.name == "pirate" and created.system_prompt == "You are a pirate." and not created.is_public
    assert templates.get_prompt_template_count().count == before + 1
    assert created.id in {t.id for t in templates.list_prompt_templates()}
    changed = templates.update_prompt_template(created.id, rest.PromptTemplateBase(description="arr"))
    assert changed.description == "arr" and changed.system_prompt == "You are a pirate."
    assert templates.get_prompt_template(created.id).description == "arr"

    bobs = bob.api("PromptTemplatesApi")
    with pytest.raises(rest.ApiException) as hidden:
        bobs.get_prompt_template(created.id)
    assert hidden.value.status == 404
    templates.share_prompt_template(created.id, bob.username)
    assert bob.username in {p.username for p in templates.get_prompt_template_permissions(created.id)}
    assert bobs.get_prompt_template(created.id).name == "pirate"
    with pytest.raises(rest.ApiException) as not_owner:
        bobs.update_prompt_template(created.id, rest.PromptTemplateBase(name="mine"))
    assert not_owner.value.status == 403
    templates.unshare_prompt_template(created.id, bob.username)
    templates.share_prompt_template(created.id, bob.username)
    templates.unshare_prompt_template_for_all(created.id)
    with pytest.raises(rest.ApiException):
        bobs.get_prompt_template(created.id)

    chat = alice.api("ChatApi")
    session = chat.create_chat_session()
    attached = chat.update_chat_session_prompt_template(
        session.id, rest.PromptTemplateChangeRequest(prompt_template_id=created.id)
    )
    assert attached.prompt_template_id == created.id
    answer = ask(chat, session.id, "Who are you?")
    raw = chat.get_message_meta(answer.message_id, info_type="prompt_raw")[0].content
    assert "You are a pirate." in raw
    assert [q.question for q in chat.list_questions_for_chat_session(session.id)] == ["Ahoy?"]
    overridden = ask(chat, session.id, "Who are you?", system_prompt="You are a robot.")
    raw = chat.get_message_meta(overridden.message_id, info_type="prompt_raw")[0].content
    assert "You are a robot." in raw and "pirate" not in raw
    assert chat.delete_chat_session_prompt_template(session.id).prompt_template_id is None

    collection_id, _ = seed_collection(lockgate, alice)
    public_collection = to_public_id("collection", collection_id)
    collections = alice.api("CollectionsApi")
    updated = collections.update_collection_prompt_template(
        public_collection, rest.PromptTemplateChangeRequest(prompt_template_id=created.id)
    )
    assert updated.id == public_collection
    in_collection = chat.create_chat_session(collection_id=public_collection)
    answer = ask(chat, in_collection.id, "Who are you?", rag_config={"rag_type": "llm_only"})
    raw = chat.get_message_meta(answer.message_id, info_type="prompt_raw")[0].content
    assert "You are a pirate." in raw  # the collection's template applies when the session has none
    assert collections.delete_collection_prompt_template(public_collection).id == public_collection

    templates.delete_prompt_template([created.id])
    assert templates.get_prompt_template_count().count == before


def test_tags_limit_what_is_retrieved(lockgate, new_user) -> None:
    import h2ogpte.rest_sync as rest

    alice = new_user()
    collection_id, document_id = seed_collection(lockgate, alice)
    alice.api("DocumentsApi").create_tag_on_document(
        to_public_id("document", document_id), rest.TagCreateRequest(name="red")
    )
    chat = alice.api("ChatApi")
    session = chat.create_chat_session(collection_id=to_public_id("collection", collection_id))
    for tags, expected in ((["red"], True), (["blue"], False), (rest.TagFilter(exclude=["red"]), False)):
        answer = ask(
            chat,
            session.id,
            "What is green tea?",
            rag_config={"rag_type": "rag"},
            tags=rest.ChatSettingsTags(tags),
        )
        assert bool(chat.get_message_references(answer.message_id)) is expected, tags


def test_collection_key_chats_only_with_its_collection(lockgate, new_user) -> None:
    import h2ogpte.rest_sync as rest

    alice = new_user()
    collection_id, _ = seed_collection(lockgate, alice)
    other_id, _ = seed_collection(lockgate, alice)
    owner_session = alice.api("ChatApi").create_chat_session()
    with http(lockgate, alice.key) as client:
        made = client.post("/v1/me/keys", json={"name": "bot", "collection_id": collection_id})
        assert made.status_code == 201, made.text
        key = made.json()["token"]
    chat = rest.ChatApi(rest_client(lockgate, key))
    session = chat.create_chat_session(collection_id=to_public_id("collection", collection_id))
    answer = ask(chat, session.id, "What is green tea?", rag_config={"rag_type": "rag"})
    assert chat.get_message_references(answer.message_id)
    assert chat.get_message_meta(answer.message_id, info_type="usage_stats")
    assert len(chat.get_chat_session_messages(session.id)) == 2

    refused = [
        lambda: chat.create_chat_session(collection_id=to_public_id("collection", other_id)),
        lambda: chat.create_chat_session(),
        lambda: chat.list_chat_sessions(),
        lambda: chat.get_chat_session(owner_session.id),
        lambda: chat.update_chat_session(session.id, rest.ChatSessionUpdateRequest(name="x")),
        lambda: rest.CollectionsApi(rest_client(lockgate, key)).list_collections(),
        lambda: rest.PromptTemplatesApi(rest_client(lockgate, key)).list_prompt_templates(),
    ]
    for call in refused:
        with pytest.raises(rest.ApiException) as denied:
            call()
        assert denied.value.status == 403


def test_unhappy_paths(lockgate, new_user) -> None:
    import h2ogpte.rest_sync as rest

    alice, bob = new_user(), new_user()
    collection_id, _ = seed_collection(lockgate, alice)
    session = alice.api("ChatApi").create_chat_session(
        collection_id=to_public_id("collection", collection_id)
    )

    wrong = rest.ChatApi(rest_client(lockgate, "sk-wrong"))
    with pytest.raises(rest.ApiException) as unauthorized:
        wrong.list_chat_sessions()
    assert unauthorized.value.status == 401

    bobs = bob.api("ChatApi")
    for call in (
        lambda: bobs.get_chat_session(session.id),
        lambda: ask(bobs, session.id, "hi"),
        lambda: bobs.get_chat_session_messages(session.id),
        lambda: bobs.create_chat_session(collection_id=to_public_id("collection", collection_id)),
        lambda: bobs.get_chat_session(to_public_id("message", 1)),
        lambda: bobs.get_chat_session("not-an-id"),
    ):
        with pytest.raises(rest.ApiException) as missing:
            call()
        assert missing.value.status == 404

    with pytest.raises(rest.ApiException) as bad:
        ask(alice.api("ChatApi"), session.id, "hi", rag_config={"rag_type": "telepathy"})
    assert 400 <= bad.value.status < 500 and "rag_type" in bad.value.body
    with pytest.raises(rest.ApiException) as unknown_llm:
        ask(alice.api("ChatApi"), session.id, "hi", llm="no-such-model")
    assert unknown_llm.value.status == 404 and "model" in unknown_llm.value.body


def test_a_dead_upstream_is_a_503_and_the_answer_keeps_the_error(lockgate, new_user) -> None:
    """ "ghost" is a chat model whose only provider is down (see conftest). Sessions naming no model
    still answer: the default chat model is a healthy one."""
    import h2ogpte.rest_sync as rest

    chat = new_user().api("ChatApi")
    session = chat.create_chat_session()
    down = rest.ChatCompletionRequest(message="Hello?", llm="ghost", rag_config={"rag_type": "llm_only"})
    with pytest.raises(rest.ApiException) as failed:
        chat.get_completion(session.id, down)
    assert failed.value.status == 503
    assert int(failed.value.headers["retry-after"]) >= 1
    assert json.loads(failed.value.body)["code"] == 503
    messages = chat.get_chat_session_messages(session.id)
    answer = next(m for m in messages if m.reply_to is not None)
    assert answer.error and answer.content == ""
    assert ask(chat, session.id, "Hello?", rag_config={"rag_type": "llm_only"}).body  # default model works


def test_malformed_answer_arguments_are_refused_before_anything_is_stored(lockgate, new_user) -> None:
    """The completion arguments become one typed request at the surface: a malformed one is a 4xx that
    names the field, and neither a question nor an answer is stored (they used to reach the model
    flow and come back as a 502)."""
    import h2ogpte.rest_sync as rest

    alice = new_user()
    collection_id, _ = seed_collection(lockgate, alice)
    chat = alice.api("ChatApi")
    session = chat.create_chat_session(collection_id=to_public_id("collection", collection_id))
    with http(lockgate, alice.key) as client:
        for body, field in (
            ({"rag_config": {"rag_max_chunks": "many"}}, "rag_max_chunks"),
            ({"rag_config": {"rag_min_chunk_score": [1]}}, "rag_min_chunk_score"),
            ({"rag_config": {"meta_data_to_include": "name"}}, "rag_config"),
            ({"tags": "not-a-list"}, "tags"),
        ):
            refused = client.post(f"/api/v1/chats/{session.id}/completions", json={"message": "hi", **body})
            assert 400 <= refused.status_code < 500 and field in refused.text, (body, refused.text)
    assert chat.get_chat_session_messages(session.id) == []

    # a collection's prompt template is set by whoever may change the collection
    bob = new_user()
    template = bob.api("PromptTemplatesApi").create_prompt_template(
        rest.PromptTemplateCreateRequest(name="bob's", system_prompt="You are Bob.")
    )
    change = rest.PromptTemplateChangeRequest(prompt_template_id=template.id)
    bobs = bob.api("CollectionsApi")
    with pytest.raises(rest.ApiException) as unreadable:
        bobs.update_collection_prompt_template(to_public_id("collection", collection_id), change)
    assert unreadable.value.status == 404
    with http(lockgate, alice.key) as client:
        public_id = to_public_id("collection", collection_id)
        shared = client.put(f"/api/v1/collections/{public_id}/permissions/{bob.username}")
        assert shared.status_code == 204, shared.text
    with pytest.raises(rest.ApiException) as read_only:
        bobs.update_collection_prompt_template(to_public_id("collection", collection_id), change)
    assert read_only.value.status == 403
