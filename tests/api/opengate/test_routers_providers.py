"""/v1/admin/routers and /v1/admin/providers, on SQLite and PostgreSQL, probing real fake upstreams."""

from __future__ import annotations

import pytest

from tests.fakes.upstreams import FakeUpstream, free_port
from tests.helpers import Api


@pytest.fixture
def vllm():
    with FakeUpstream("vllm", "up-chat", api_key="sk-upstream-secret-value", context_length=2048) as upstream:
        yield upstream


@pytest.fixture
def tei():
    with FakeUpstream("tei", "up-embed", embedding_dim=24, context_length=512) as upstream:
        yield upstream


async def make_router(api: Api, name: str = "chat", type_: str = "text-generation", **fields) -> dict:
    response = await api.post("/v1/admin/routers", json={"name": name, "type": type_, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_router_lifecycle(api: Api) -> None:
    created = await make_router(api, aliases=["gpt-x", "gpt-y"], cost_prompt_tokens=1.5)
    assert created["object"] == "router"
    assert (created["name"], created["aliases"], created["providers"]) == ("chat", ["gpt-x", "gpt-y"], 0)
    assert created["load_balancing_strategy"] == "shuffle"
    listed = (await api.get("/v1/admin/routers", params={"sort_by": "name"})).json()
    assert (listed["object"], listed["total"], [r["name"] for r in listed["data"]]) == ("list", 1, ["chat"])
    patched = await api.patch(
        f"/v1/admin/routers/{created['id']}", json={"aliases": ["gpt-z"], "name": "chat2"}
    )
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["aliases"]) == ("chat2", ["gpt-z"])
    models = (await api.get("/v1/models")).json()["data"]
    assert [(m["id"], m["aliases"]) for m in models] == [("chat2", ["gpt-z"])]
    assert (await api.delete(f"/v1/admin/routers/{created['id']}")).status_code == 204
    assert (await api.get(f"/v1/admin/routers/{created['id']}")).status_code == 404
    assert (await api.get("/v1/models")).json()["data"] == []


async def test_names_and_aliases_are_unique_across_routers(api: Api) -> None:
    await make_router(api, "a", aliases=["shared"])
    assert (
        await api.post("/v1/admin/routers", json={"name": "shared", "type": "text-generation"})
    ).status_code == 409
    clash = await api.post(
        "/v1/admin/routers", json={"name": "b", "type": "text-generation", "aliases": ["a"]}
    )
    assert clash.status_code == 409
    twice = await api.post(
        "/v1/admin/routers", json={"name": "c", "type": "text-generation", "aliases": ["c"]}
    )
    assert twice.status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "type": "text-to-poetry"}, "type"),
        (
            {"name": "x", "type": "text-generation", "load_balancing_strategy": "random"},
            "load_balancing_strategy",
        ),
        ({"name": "x", "type": "text-generation", "cost_prompt_tokens": -1}, "cost_prompt_tokens"),
        ({"type": "text-generation"}, "name"),
    ],
)
async def test_bad_router_bodies_are_422(api: Api, body: dict, field: str) -> None:
    response = await api.post("/v1/admin/routers", json=body)
    assert response.status_code == 422
    assert field in response.json()["detail"][0]["loc"]


async def test_provide_models_permission_manages_routers_plain_users_cannot(api: Api) -> None:
    plain, provider = await api.create_member([]), await api.create_member(["provide_models"])
    body = {"name": "m", "type": "text-generation"}
    assert (await api.post("/v1/admin/routers", key=plain.key, json=body)).status_code == 403
    assert (await api.get("/v1/admin/providers", key=plain.key)).status_code == 403
    assert (await api.post("/v1/admin/routers", key=provider.key, json=body)).status_code == 201


async def test_provider_is_probed_and_its_key_encrypted(api: Api, vllm: FakeUpstream) -> None:
    router = await make_router(api)
    body = {
        "router": router["id"],
        "type": "vllm",
        "url": vllm.url,
        "key": vllm.api_key,
        "model_name": "up-chat",
    }
    response = await api.post("/v1/admin/providers", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["object"] == "provider"
    assert created["key"] != vllm.api_key and vllm.api_key[-2:] in created["key"]
    assert created["model_hosting_zone"] == "WOR" and created["timeout"] == 300
    [(stored,)] = await api.sql("SELECT key_encrypted FROM providers WHERE id = :id", id=created["id"])
    assert vllm.api_key not in stored
    router_after = (await api.get(f"/v1/admin/routers/{router['id']}")).json()
    assert (router_after["max_context_length"], router_after["providers"]) == (2048, 1)
    answer = await api.post(
        "/v1/chat/completions", json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"] == "echo: hi"


async def test_embedding_provider_probe_finds_the_vector_size(api: Api, tei: FakeUpstream) -> None:
    router = await make_router(api, "embed", "text-embeddings-inference")
    body = {"router": router["id"], "type": "tei", "url": tei.url, "model_name": "up-embed"}
    assert (await api.post("/v1/admin/providers", json=body)).status_code == 201
    router_after = (await api.get(f"/v1/admin/routers/{router['id']}")).json()
    assert (router_after["vector_size"], router_after["max_context_length"]) == (24, 512)


async def test_unreachable_or_wrong_upstream_is_424(api: Api, vllm: FakeUpstream) -> None:
    router = await make_router(api)
    dead = {
        "router": router["id"],
        "type": "vllm",
        "url": f"http://127.0.0.1:{free_port()}",
        "model_name": "m",
    }
    response = await api.post("/v1/admin/providers", json=dead)
    assert response.status_code == 424
    assert "unreachable" in response.json()["detail"]
    wrong_model = {
        "router": router["id"],
        "type": "vllm",
        "url": vllm.url,
        "key": vllm.api_key,
        "model_name": "x",
    }
    assert (await api.post("/v1/admin/providers", json=wrong_model)).status_code == 424
    wrong_key = {
        "router": router["id"],
        "type": "vllm",
        "url": vllm.url,
        "key": "sk-bad",
        "model_name": "up-chat",
    }
    assert (await api.post("/v1/admin/providers", json=wrong_key)).status_code == 424
    assert (await api.get("/v1/admin/providers")).json()["data"] == []


@pytest.mark.parametrize(
    ("override", "status", "field"),
    [
        ({"url": "ftp://host"}, 422, "url"),
        ({"url": "http://host/v1"}, 422, "url"),
        ({"type": "tei"}, 422, None),
        ({"qos_metric": "ttft"}, 422, None),
        ({"router": 999999}, 404, None),
        ({"model_hosting_zone": "FRANCE"}, 422, "model_hosting_zone"),
    ],
)
async def test_bad_provider_bodies(api: Api, vllm: FakeUpstream, override: dict, status: int, field) -> None:
    router = await make_router(api)
    body = {
        "router": router["id"],
        "type": "vllm",
        "url": vllm.url,
        "key": vllm.api_key,
        "model_name": "up-chat",
    }
    response = await api.post("/v1/admin/providers", json={**body, **override})
    assert response.status_code == status, response.text
    if field:
        assert field in response.json()["detail"][0]["loc"]


async def test_provider_list_update_delete(api: Api, vllm: FakeUpstream) -> None:
    router = await make_router(api)
    other = await make_router(api, "other")
    body = {
        "router": router["id"],
        "type": "vllm",
        "url": vllm.url,
        "key": vllm.api_key,
        "model_name": "up-chat",
    }
    provider_id = (await api.post("/v1/admin/providers", json=body)).json()["id"]
    assert (await api.post("/v1/admin/providers", json=body)).status_code == 409
    listed = (await api.get("/v1/admin/providers", params={"router": router["id"]})).json()["data"]
    assert [p["id"] for p in listed] == [provider_id]
    assert (await api.get("/v1/admin/providers", params={"router": other["id"]})).json()["data"] == []
    patch = {"qos_metric": "inflight", "qos_limit": 4, "timeout": 30, "model_total_params": 8}
    updated = await api.patch(f"/v1/admin/providers/{provider_id}", json=patch)
    assert updated.status_code == 200
    assert {k: updated.json()[k] for k in patch} == patch
    assert (await api.delete(f"/v1/admin/providers/{provider_id}")).status_code == 204
    assert (await api.get(f"/v1/admin/providers/{provider_id}")).status_code == 404
    answer = await api.post(
        "/v1/chat/completions", json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert answer.status_code == 503


async def test_moving_a_provider_onto_a_duplicate_is_409_and_qos_pairs_are_kept(
    api: Api, vllm: FakeUpstream
) -> None:
    first, second = await make_router(api, "first"), await make_router(api, "second")
    body = {"type": "vllm", "url": vllm.url, "key": vllm.api_key, "model_name": "up-chat"}
    a = (await api.post("/v1/admin/providers", json={**body, "router": first["id"]})).json()["id"]
    await api.post("/v1/admin/providers", json={**body, "router": second["id"]})
    assert (await api.patch(f"/v1/admin/providers/{a}", json={"router": second["id"]})).status_code == 409
    assert (await api.patch(f"/v1/admin/providers/{a}", json={"qos_metric": "ttft"})).status_code == 422


async def test_an_endpoint_no_provider_offers_is_400(api: Api) -> None:
    with FakeUpstream("mistral", "up-m") as mistral:
        router = await make_router(api, "m-chat")
        body = {"router": router["id"], "type": "mistral", "url": mistral.url, "model_name": "up-m"}
        assert (await api.post("/v1/admin/providers", json=body)).status_code == 201
        response = await api.post("/v1/completions", json={"model": "m-chat", "prompt": "hi"})
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "model"
