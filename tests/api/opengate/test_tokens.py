"""/v1/admin/tokens: keys managed by an admin."""

import time

from tests.helpers import MASTER_KEY, Api


async def test_token_for_a_user_authenticates_as_that_user(api: Api) -> None:
    member = await api.create_member([])
    created = await api.post("/v1/admin/tokens", json={"name": "ci", "user": member.id})
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("sk-") and len(token) >= 40
    assert (await api.get("/v1/me/info", key=token)).json()["id"] == member.id


async def test_keys_are_stored_only_as_hashes_and_listed_truncated(api: Api) -> None:
    member = await api.create_member([])
    rows = await api.sql("SELECT key_hash, display, name FROM api_keys WHERE user_id = :id", id=member.id)
    assert rows and all(member.key not in " ".join(map(str, row)) for row in rows)
    listed = (await api.get("/v1/admin/tokens", params={"user": member.id})).json()["data"]
    assert [t["user"] for t in listed] == [member.id]
    shown = listed[0]["token"]
    assert shown != member.key and "..." in shown
    assert shown.startswith(member.key[:7]) and shown.endswith(member.key[-4:])


async def test_get_update_delete_a_token(api: Api) -> None:
    member = await api.create_member([])
    token_id = (await api.get("/v1/admin/tokens", params={"user": member.id})).json()["data"][0]["id"]
    token = (await api.get(f"/v1/admin/tokens/{token_id}")).json()
    assert (token["object"], token["user"], token["expires"]) == ("token", member.id, None)
    expires = int(time.time()) + 600
    patched = await api.patch(f"/v1/admin/tokens/{token_id}", json={"name": "renamed", "expires": expires})
    assert patched.status_code == 204
    token = (await api.get(f"/v1/admin/tokens/{token_id}")).json()
    assert (token["name"], token["expires"]) == ("renamed", expires)
    assert (await api.delete(f"/v1/admin/tokens/{token_id}")).status_code == 204
    assert (await api.get(f"/v1/admin/tokens/{token_id}")).status_code == 404
    assert (await api.get("/v1/me/info", key=member.key)).status_code == 401


async def test_token_without_user_is_for_the_caller(api: Api) -> None:
    created = await api.post("/v1/admin/tokens", json={"name": "mine"})
    me = (await api.get("/v1/me/info", key=created.json()["token"])).json()
    assert me["id"] == (await api.get("/v1/me/info", key=MASTER_KEY)).json()["id"]


async def test_token_for_unknown_user_is_404_and_past_expiry_422(api: Api) -> None:
    assert (await api.post("/v1/admin/tokens", json={"name": "x", "user": 999999})).status_code == 404
    past = await api.post("/v1/admin/tokens", json={"name": "x", "expires": int(time.time()) - 1})
    assert past.status_code == 422
    assert past.json()["detail"][0]["loc"] == ["body", "expires"]


async def test_expired_key_is_refused(api: Api) -> None:
    member = await api.create_member([])
    await api.sql(
        "UPDATE api_keys SET expires = :t WHERE user_id = :id", t=int(time.time()) - 5, id=member.id
    )
    response = await api.get("/v1/me/info", key=member.key)
    assert response.status_code == 401
    assert response.json()["detail"] == "API key expired."


async def test_unknown_token_is_404(api: Api) -> None:
    assert (await api.get("/v1/admin/tokens/888888")).status_code == 404
    assert (await api.delete("/v1/admin/tokens/888888")).status_code == 404


async def test_master_key_is_not_listed_nor_deletable_as_a_token(api: Api) -> None:
    listed = (await api.get("/v1/admin/tokens", params={"limit": 100})).json()["data"]
    assert all(t["name"] != "master" for t in listed)
    [(master_key_id,)] = await api.sql("SELECT id FROM api_keys WHERE kind = 'master'")
    assert (await api.delete(f"/v1/admin/tokens/{master_key_id}")).status_code == 404
    assert (await api.get("/v1/me/info")).status_code == 200
