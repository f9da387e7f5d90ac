"""/v1/admin/users."""

import time

import pytest

from tests.helpers import Api


async def test_create_and_read_a_user(api: Api) -> None:
    role = await api.create_role([])
    org = (await api.post("/v1/admin/organizations", json={"name": "acme"})).json()["id"]
    body = {
        "email": "ada@example.org",
        "name": "Ada",
        "password": "correct horse",
        "role": role,
        "organization": org,
        "budget": 12.5,
        "expires": int(time.time()) + 3600,
        "priority": 3,
    }
    created = await api.post("/v1/admin/users", json=body)
    assert created.status_code == 201
    user = (await api.get(f"/v1/admin/users/{created.json()['id']}")).json()
    assert user["object"] == "user"
    for field in ("email", "name", "role", "organization", "budget", "expires", "priority"):
        assert user[field] == body[field], field
    assert "password" not in user and "password_hash" not in user


async def test_passwords_are_stored_as_argon2_hashes(api: Api) -> None:
    member = await api.create_member([])
    [(stored,)] = await api.sql("SELECT password_hash FROM users WHERE id = :id", id=member.id)
    assert stored.startswith("$argon2id$")
    assert member.password not in stored


async def test_duplicate_email_is_409_whatever_the_case(api: Api) -> None:
    member = await api.create_member([])
    response = await api.post(
        "/v1/admin/users", json={"email": member.email.upper(), "password": "x", "role": member.role}
    )
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [({"role": 424242}, "Role 424242"), ({"organization": 424242}, "Organization 424242")],
)
async def test_unknown_role_or_organization_is_404(api: Api, overrides: dict, missing: str) -> None:
    role = await api.create_role([])
    body = {"email": "who@example.org", "password": "pw", "role": role, **overrides}
    response = await api.post("/v1/admin/users", json=body)
    assert response.status_code == 404
    assert missing in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": "pw", "role": 1}, "email"),
        ({"email": "a@b.org", "role": 1}, "password"),
        ({"email": "a@b.org", "password": "pw"}, "role"),
        ({"email": "a@b.org", "password": "pw", "role": "admin"}, "role"),
        ({"email": "a@b.org", "password": "pw", "role": 1, "expires": 1000}, "expires"),
        ({"email": "a@b.org", "password": "pw", "role": 1, "budget": -1}, "budget"),
        ({"email": "a@b.org", "password": "pw", "role": 1, "priority": -1}, "priority"),
    ],
)
async def test_bad_user_bodies_are_422_naming_the_field(api: Api, body: dict, field: str) -> None:
    response = await api.post("/v1/admin/users", json=body)
    assert response.status_code == 422
    assert [err["loc"][-1] for err in response.json()["detail"]] == [field]


async def test_list_filters_by_role_organization_and_email(api: Api) -> None:
    org = (await api.post("/v1/admin/organizations", json={"name": "filter-org"})).json()["id"]
    a = await api.create_member([], organization=org)
    b = await api.create_member([], role=a.role)
    await api.create_member([])

    def ids(response) -> set[int]:
        return {u["id"] for u in response.json()["data"]}

    assert ids(await api.get("/v1/admin/users", params={"role": a.role})) == {a.id, b.id}
    assert ids(await api.get("/v1/admin/users", params={"organization": org})) == {a.id}
    assert ids(await api.get("/v1/admin/users", params={"email": b.email})) == {b.id}


async def test_patch_changes_only_what_is_sent_and_null_clears(api: Api) -> None:
    org = (await api.post("/v1/admin/organizations", json={"name": "patch-org"})).json()["id"]
    member = await api.create_member([], organization=org, budget=5.0, name="Before")
    assert (await api.patch(f"/v1/admin/users/{member.id}", json={"name": "After"})).status_code == 204
    user = (await api.get(f"/v1/admin/users/{member.id}")).json()
    assert (user["name"], user["organization"], user["budget"]) == ("After", org, 5.0)
    cleared = await api.patch(f"/v1/admin/users/{member.id}", json={"organization": None, "budget": None})
    assert cleared.status_code == 204
    user = (await api.get(f"/v1/admin/users/{member.id}")).json()
    assert (user["name"], user["organization"], user["budget"]) == ("After", None, None)


async def test_patch_to_an_existing_email_is_409_and_unknown_role_404(api: Api) -> None:
    a, b = await api.create_member([]), await api.create_member([])
    assert (await api.patch(f"/v1/admin/users/{a.id}", json={"email": b.email})).status_code == 409
    assert (await api.patch(f"/v1/admin/users/{a.id}", json={"role": 777777})).status_code == 404
    assert (await api.patch("/v1/admin/users/777777", json={"name": "x"})).status_code == 404


async def test_admin_password_reset_lets_the_user_log_in(api: Api) -> None:
    member = await api.create_member([])
    await api.patch(f"/v1/admin/users/{member.id}", json={"password": "brand-new-pass"})
    assert (
        await api.post("/v1/auth/login", key=None, json={"email": member.email, "password": member.password})
    ).status_code == 401
    login = await api.post(
        "/v1/auth/login", key=None, json={"email": member.email, "password": "brand-new-pass"}
    )
    assert login.status_code == 200


async def test_role_change_applies_to_existing_keys_at_once(api: Api) -> None:
    member = await api.create_member([])
    assert (await api.get("/v1/admin/users", key=member.key)).status_code == 403
    admin_role = await api.create_role(["admin"])
    await api.patch(f"/v1/admin/users/{member.id}", json={"role": admin_role})
    assert (await api.get("/v1/admin/users", key=member.key)).status_code == 200


async def test_deleted_user_keys_stop_working_at_once(api: Api) -> None:
    member = await api.create_member([])
    assert (await api.get("/v1/me/info", key=member.key)).status_code == 200
    assert (await api.delete(f"/v1/admin/users/{member.id}")).status_code == 204
    assert (await api.get("/v1/me/info", key=member.key)).status_code == 401
    assert (await api.get(f"/v1/admin/users/{member.id}")).status_code == 404
    assert await api.sql("SELECT id FROM api_keys WHERE user_id = :id", id=member.id) == []


async def test_the_master_user_cannot_be_deleted(api: Api) -> None:
    master_id = (await api.get("/v1/me/info")).json()["id"]
    response = await api.delete(f"/v1/admin/users/{master_id}")
    assert response.status_code == 409
    assert (await api.get("/v1/me/info")).status_code == 200


async def test_expired_user_is_refused_with_403(api: Api) -> None:
    member = await api.create_member([])
    await api.sql("UPDATE users SET expires = :t WHERE id = :id", t=int(time.time()) - 10, id=member.id)
    response = await api.get("/v1/me/keys", key=member.key)  # /v1/me/info still answers (as OpenGateLLM)
    assert response.status_code == 403
    assert "expired" in response.json()["detail"]
    login = await api.post(
        "/v1/auth/login", key=None, json={"email": member.email, "password": member.password}
    )
    assert login.status_code == 403


async def test_list_users_paginates_without_overlap(api: Api) -> None:
    for _ in range(4):
        await api.create_member([])
    seen: list[int] = []
    for offset in range(0, 6, 2):
        page = (await api.get("/v1/admin/users", params={"limit": 2, "offset": offset})).json()["data"]
        seen += [u["id"] for u in page]
    assert len(seen) == len(set(seen)) == 5  # 4 members + the master user
    assert seen == sorted(seen)


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/v1/admin/users/3000000000", {}),
        ("GET", "/v1/admin/users", {"params": {"role": 3000000000}}),
        (
            "POST",
            "/v1/admin/users",
            {"json": {"email": "a@b.org", "password": "p", "role": 1, "expires": 10**20}},
        ),
        ("DELETE", "/v1/admin/roles/99999999999999999999", {}),
        ("POST", "/v1/me/keys", {"json": {"name": "k", "expires": 10**20}}),
    ],
)
async def test_oversized_numbers_are_422_not_500(api: Api, method: str, path: str, kwargs: dict) -> None:
    assert (await api.request(method, path, **kwargs)).status_code == 422


async def test_the_master_user_never_expires(api: Api) -> None:
    master_id = (await api.get("/v1/me/info")).json()["id"]
    response = await api.patch(f"/v1/admin/users/{master_id}", json={"expires": int(time.time()) + 60})
    assert response.status_code == 409
    assert (await api.get(f"/v1/admin/users/{master_id}")).json()["expires"] is None


async def test_password_change_ends_login_sessions_but_keeps_api_keys(api: Api) -> None:
    member = await api.create_member([])
    login = await api.post(
        "/v1/auth/login", key=None, json={"email": member.email, "password": member.password}
    )
    session_key = login.json()["key"]
    await api.patch(f"/v1/admin/users/{member.id}", json={"password": "another-one"})
    assert (await api.get("/v1/me/info", key=session_key)).status_code == 401
    assert (await api.get("/v1/me/info", key=member.key)).status_code == 200


async def test_emails_are_stored_lowercase(api: Api) -> None:
    role = await api.create_role([])
    created = await api.post(
        "/v1/admin/users", json={"email": "Mixed.Case@Example.org", "password": "p", "role": role}
    )
    user = (await api.get(f"/v1/admin/users/{created.json()['id']}")).json()
    assert user["email"] == "mixed.case@example.org"


async def test_a_deleted_users_id_is_never_given_again(api: Api) -> None:
    member = await api.create_member([])
    assert (await api.delete(f"/v1/admin/users/{member.id}")).status_code == 204
    newcomer = await api.create_member(role=member.role)
    assert newcomer.id > member.id  # usage history keeps user ids: a reused one would inherit it
