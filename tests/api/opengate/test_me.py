"""/v1/me/info and /v1/me/keys."""

import time

from tests.helpers import Api


async def test_info_shows_role_permissions_and_limits(api: Api) -> None:
    limits = [{"router": await api.create_router(), "type": "rpd", "value": 100}]
    role = await api.create_role(["read_metric"], limits)
    member = await api.create_member(role=role, name="Grace", budget=3.0, priority=2)
    info = (await api.get("/v1/me/info", key=member.key)).json()
    assert info["object"] == "userInfo"
    assert (info["id"], info["email"], info["name"]) == (member.id, member.email, "Grace")
    assert (info["permissions"], info["limits"]) == (["read_metric"], limits)
    assert (info["budget"], info["priority"], info["expires"], info["organization"]) == (3.0, 2, None, None)


async def test_master_key_has_every_permission(api: Api) -> None:
    info = (await api.get("/v1/me/info")).json()
    assert set(info["permissions"]) == {"admin", "create_public_collection", "read_metric", "provide_models"}


async def test_update_own_name(api: Api) -> None:
    member = await api.create_member([])
    assert (await api.patch("/v1/me/info", key=member.key, json={"name": "New Name"})).status_code == 204
    assert (await api.get("/v1/me/info", key=member.key)).json()["name"] == "New Name"


async def test_password_change_needs_the_current_password(api: Api) -> None:
    member = await api.create_member([])
    missing = await api.patch("/v1/me/info", key=member.key, json={"password": "next-password"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "current_password"]
    wrong = await api.patch(
        "/v1/me/info", key=member.key, json={"password": "next-password", "current_password": "nope"}
    )
    assert wrong.status_code == 403
    ok = await api.patch(
        "/v1/me/info", key=member.key, json={"password": "next-password", "current_password": member.password}
    )
    assert ok.status_code == 204
    login = await api.post(
        "/v1/auth/login", key=None, json={"email": member.email, "password": "next-password"}
    )
    assert login.status_code == 200


async def test_email_change_needs_the_current_password_and_a_free_address(api: Api) -> None:
    a, b = await api.create_member([]), await api.create_member([])
    assert (await api.patch("/v1/me/info", key=a.key, json={"email": "new@example.org"})).status_code == 422
    taken = await api.patch("/v1/me/info", key=a.key, json={"email": b.email, "current_password": a.password})
    assert taken.status_code == 409
    ok = await api.patch(
        "/v1/me/info", key=a.key, json={"email": "new@example.org", "current_password": a.password}
    )
    assert ok.status_code == 204
    assert (await api.get("/v1/me/info", key=a.key)).json()["email"] == "new@example.org"


async def test_users_cannot_raise_their_own_budget_or_role(api: Api) -> None:
    member = await api.create_member([], budget=1.0)
    admin_role = await api.create_role(["admin"])
    await api.patch("/v1/me/info", key=member.key, json={"budget": 1000, "role": admin_role, "name": "n"})
    info = (await api.get("/v1/me/info", key=member.key)).json()
    assert (info["budget"], info["permissions"]) == (1.0, [])


async def test_own_keys_lifecycle(api: Api) -> None:
    member = await api.create_member([])
    expires = int(time.time()) + 3600
    created = await api.post("/v1/me/keys", key=member.key, json={"name": "laptop", "expires": expires})
    assert created.status_code == 201
    key_id, new_key = created.json()["id"], created.json()["token"]
    assert (await api.get("/v1/me/info", key=new_key)).json()["id"] == member.id
    listed = (await api.get("/v1/me/keys", key=member.key)).json()
    assert listed["object"] == "list"
    mine = {k["id"]: k for k in listed["data"]}
    assert mine[key_id]["object"] == "key"
    assert (mine[key_id]["name"], mine[key_id]["expires"]) == ("laptop", expires)
    assert new_key not in {k["token"] for k in listed["data"]}
    got = (await api.get(f"/v1/me/keys/{key_id}", key=member.key)).json()
    assert got["token"] == mine[key_id]["token"]
    assert (await api.delete(f"/v1/me/keys/{key_id}", key=member.key)).status_code == 204
    assert (await api.get("/v1/me/info", key=new_key)).status_code == 401
    assert (await api.get(f"/v1/me/keys/{key_id}", key=member.key)).status_code == 404


async def test_another_users_key_is_invisible(api: Api) -> None:
    alice, bob = await api.create_member([]), await api.create_member([])
    bob_key_id = (await api.get("/v1/me/keys", key=bob.key)).json()["data"][0]["id"]
    assert (await api.get(f"/v1/me/keys/{bob_key_id}", key=alice.key)).status_code == 404
    assert (await api.delete(f"/v1/me/keys/{bob_key_id}", key=alice.key)).status_code == 404
    assert all(k["id"] != bob_key_id for k in (await api.get("/v1/me/keys", key=alice.key)).json()["data"])
    assert (await api.get("/v1/me/info", key=bob.key)).status_code == 200


async def test_key_bodies_are_validated(api: Api) -> None:
    member = await api.create_member([])
    no_name = await api.post("/v1/me/keys", key=member.key, json={})
    assert no_name.status_code == 422
    assert no_name.json()["detail"][0]["loc"] == ["body", "name"]
    past = await api.post("/v1/me/keys", key=member.key, json={"name": "x", "expires": 5})
    assert past.status_code == 422
    bad_limit = await api.get("/v1/me/keys", key=member.key, params={"limit": 1000})
    assert bad_limit.status_code == 422


async def test_me_without_key_is_401(api: Api) -> None:
    assert (await api.get("/v1/me/info", key=None)).status_code == 401
    assert (await api.get("/v1/me/keys", key=None)).status_code == 401


async def test_a_collection_key_is_refused_outside_chat(api: Api) -> None:
    alice, bob = await api.create_member([]), await api.create_member([])
    mine = (await api.post("/v1/collections", key=alice.key, json={"name": "notes"})).json()["id"]
    theirs = (await api.post("/v1/collections", key=bob.key, json={"name": "secret"})).json()["id"]
    refused = await api.post("/v1/me/keys", key=alice.key, json={"name": "k", "collection_id": theirs})
    assert refused.status_code == 404  # you cannot scope a key to a collection you cannot read
    missing = await api.post("/v1/me/keys", key=alice.key, json={"name": "k", "collection_id": 2**31})
    assert missing.status_code == 422 and "collection_id" in missing.text
    created = await api.post("/v1/me/keys", key=alice.key, json={"name": "kiosk", "collection_id": mine})
    assert created.status_code == 201, created.text
    scoped = created.json()["token"]
    for method, path in (
        ("get", "/v1/me/info"),
        ("get", f"/v1/collections/{mine}"),
        ("get", "/v1/collections"),
        ("get", "/v1/models"),
        ("post", "/v1/me/keys"),
    ):
        response = await getattr(api, method)(
            path, key=scoped, **({"json": {"name": "x"}} if method == "post" else {})
        )
        assert response.status_code == 403, (path, response.text)
        assert "collection key" in response.text
    assert (await api.get("/v1/me/info", key=alice.key)).status_code == 200  # her other keys are untouched
