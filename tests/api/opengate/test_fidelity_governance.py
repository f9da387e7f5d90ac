"""OpenGateLLM 0.4.1 fidelity (issue 13): errors, identity, usage, routers, transcriptions, collections.
Each answer is validated against OpenGateLLM 0.4.1's own response models (tests/api/opengate/spec041.py),
on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import httpx
import pytest

from lockgate.app import create_app
from lockgate.config import Settings
from tests.api.opengate import spec041 as spec
from tests.api.opengate.fidelity import serve
from tests.fakes.upstreams import FakeUpstream, free_port
from tests.helpers import Api

CHAT = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def openai_up():
    with FakeUpstream("openai", "up-model") as upstream:
        yield upstream


# 3. errors on inference routes: a body both OpenAI and OpenGateLLM clients read


async def test_inference_errors_carry_detail_and_error(api: Api) -> None:
    missing = await api.post("/v1/chat/completions", json={**CHAT, "model": "nope"})
    assert missing.status_code == 404
    assert "nope" in spec.valid(spec.HTTPException, missing.json()).detail
    assert missing.json()["error"]["param"] == "model"
    bad = await api.post("/v1/chat/completions", json={**CHAT, "temperature": "hot"})
    assert bad.status_code == 422
    locs = [item.loc for item in spec.valid(spec.HTTPValidationError, bad.json()).detail]
    assert ["body", "temperature"] in locs
    assert bad.json()["error"]["param"] == "temperature"
    embeddings = await api.post("/v1/embeddings", json={"model": "nope", "input": "x"})
    assert embeddings.status_code == 404 and spec.valid(spec.HTTPException, embeddings.json())


# 21. an exhausted budget: 400 as OpenGateLLM, the code still says why


async def test_exhausted_budget_is_400_insufficient_budget(api: Api, openai_up: FakeUpstream) -> None:
    router = await serve(api, openai_up, "chat", "text-generation")
    await api.patch(f"/v1/admin/routers/{router}", json={"cost_prompt_tokens": 1_000_000.0})
    member = await api.create_member([], budget=0.0)
    refused = await api.post("/v1/chat/completions", key=member.key, json=CHAT)
    assert refused.status_code == 400
    assert spec.valid(spec.HTTPException, refused.json()).detail
    assert refused.json()["error"]["code"] == "insufficient_budget"
    assert openai_up.calls("/v1/chat/completions") == []


# 19. an expired account still reads its own info, and nothing else


async def test_expired_user_reads_me_info_only(api: Api) -> None:
    member = await api.create_member([])
    await api.sql("UPDATE users SET expires = :t WHERE id = :id", t=int(time.time()) - 10, id=member.id)
    info = await api.get("/v1/me/info", key=member.key)
    assert info.status_code == 200
    assert spec.valid(spec.UserInfo, info.json()).id == member.id
    for path in ("/v1/me/keys", "/v1/me/usage", "/v1/models"):
        refused = await api.get(path, key=member.key)
        assert refused.status_code == 403, path
        assert "expired" in spec.valid(spec.HTTPException, refused.json()).detail


# 20. own keys live at most 365 days (OpenGateLLM's configured maximum)


async def test_own_key_lifetime_is_bounded(api: Api) -> None:
    member = await api.create_member([])
    year = 365 * 86400
    too_late = await api.post(
        "/v1/me/keys", key=member.key, json={"name": "k", "expires": int(time.time()) + year + 3600}
    )
    assert too_late.status_code == 400
    assert "365 days" in spec.valid(spec.HTTPException, too_late.json()).detail
    admin_own = await api.post("/v1/admin/tokens", json={"name": "k", "expires": int(time.time()) + 2 * year})
    assert admin_own.status_code == 400
    unbounded = await api.post("/v1/me/keys", key=member.key, json={"name": "k"})
    assert unbounded.status_code == 201
    created = spec.valid(spec.KeyCreated, unbounded.json())
    [row] = [
        k for k in (await api.get("/v1/me/keys", key=member.key)).json()["data"] if k["id"] == created.id
    ]
    assert time.time() + year - 120 <= row["expires"] <= time.time() + year + 120
    for_another = await api.post(
        "/v1/admin/tokens", json={"name": "k", "user": member.id, "expires": int(time.time()) + 2 * year}
    )
    assert for_another.status_code == 201  # an admin's call for someone else, as in OpenGateLLM


# 8. /v1/me/usage metrics are integer milliseconds


async def test_me_usage_metrics_are_integers(api: Api, openai_up: FakeUpstream) -> None:
    await serve(api, openai_up, "chat", "text-generation")
    member = await api.create_member([])
    assert (await api.post("/v1/chat/completions", key=member.key, json=CHAT)).status_code == 200
    stream = await api.post("/v1/chat/completions", key=member.key, json={**CHAT, "stream": True})
    assert stream.status_code == 200
    usage = await api.get("/v1/me/usage", key=member.key)
    rows = spec.valid(spec.MeUsages, usage.json()).data
    assert len(rows) == 2
    assert all(isinstance(r.usage.metrics.latency, int) for r in rows)
    assert any(isinstance(r.usage.metrics.ttft, int) for r in rows)


# 1. routers declared in the config file belong to the master user


async def test_config_routers_belong_to_the_master_user(settings: Settings) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    models = [
        {
            "name": "cfg",
            "type": "text-generation",
            "providers": [{"type": "openai", "url": dead, "model_name": "m"}],
        }
    ]
    application = create_app(settings.model_copy(update={"models": Settings(models=models).models}))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://lockgate.test") as client:
            api = Api(client, application.state.lockgate)
            master_id = (await api.get("/v1/me/info")).json()["id"]
            routers = spec.valid(spec.Routers, (await api.get("/v1/admin/routers")).json()).data
            assert [(r.name, r.user_id) for r in routers] == [("cfg", master_id)]
            providers = (await api.get("/v1/admin/providers")).json()["data"]
            assert [p["user_id"] for p in providers] == [master_id]


# 2. a JSON transcription has an id


async def test_json_transcription_has_an_id(api: Api, openai_up: FakeUpstream) -> None:
    await serve(api, openai_up, "whisper", "automatic-speech-recognition")
    files = {"file": ("speech.wav", b"RIFF" + b"\0" * 96, "audio/wav")}
    answer = await api.post("/v1/audio/transcriptions", data={"model": "whisper"}, files=files)
    assert answer.status_code == 200, answer.text
    assert spec.valid(spec.Transcription, answer.json()).id


# 4. another user's public collection cannot be deleted: 404, as OpenGateLLM looks only among yours


async def test_deleting_another_users_public_collection_is_404(api: Api) -> None:
    owner = await api.create_member(["create_public_collection"])
    other = await api.create_member([])
    created = await api.post(
        "/v1/collections", key=owner.key, json={"name": "shared", "visibility": "public"}
    )
    collection_id = spec.valid(spec.CreatedId, created.json()).id
    refused = await api.delete(f"/v1/collections/{collection_id}", key=other.key)
    assert refused.status_code == 404
    assert str(collection_id) in spec.valid(spec.HTTPException, refused.json()).detail
    assert (await api.get(f"/v1/collections/{collection_id}", key=other.key)).status_code == 200
    assert (await api.delete(f"/v1/collections/{collection_id}", key=owner.key)).status_code == 204
