"""Who may call the admin routes: nobody without a key, nobody without `admin`."""

import pytest

from tests.helpers import Api

ADMIN_ROUTES = [
    ("GET", "/v1/admin/roles"),
    ("POST", "/v1/admin/roles"),
    ("GET", "/v1/admin/roles/1"),
    ("PATCH", "/v1/admin/roles/1"),
    ("DELETE", "/v1/admin/roles/1"),
    ("GET", "/v1/admin/users"),
    ("POST", "/v1/admin/users"),
    ("GET", "/v1/admin/users/1"),
    ("PATCH", "/v1/admin/users/1"),
    ("DELETE", "/v1/admin/users/1"),
    ("GET", "/v1/admin/organizations"),
    ("POST", "/v1/admin/organizations"),
    ("GET", "/v1/admin/organizations/1"),
    ("PATCH", "/v1/admin/organizations/1"),
    ("DELETE", "/v1/admin/organizations/1"),
    ("GET", "/v1/admin/tokens"),
    ("POST", "/v1/admin/tokens"),
    ("GET", "/v1/admin/tokens/1"),
    ("PATCH", "/v1/admin/tokens/1"),
    ("DELETE", "/v1/admin/tokens/1"),
]


async def test_admin_routes_refuse_non_admins_missing_and_wrong_keys(api: Api) -> None:
    member = await api.create_member(["read_metric", "create_public_collection", "provide_models"])
    for method, path in ADMIN_ROUTES:
        body = {"json": {"name": "x"}} if method in {"POST", "PATCH"} else {}
        forbidden = await api.request(method, path, key=member.key, **body)
        assert forbidden.status_code == 403, (method, path, forbidden.text)
        assert "admin" in forbidden.json()["detail"]
        assert (await api.request(method, path, key=None, **body)).status_code == 401, (method, path)
        wrong = await api.request(method, path, key="sk-not-a-real-key-at-all", **body)
        assert wrong.status_code == 401, (method, path)


async def test_a_role_with_admin_permission_administers(api: Api) -> None:
    admin = await api.create_member(["admin"])
    assert (await api.get("/v1/admin/users", key=admin.key)).status_code == 200
    assert (await api.post("/v1/admin/organizations", key=admin.key, json={"name": "org"})).status_code == 201


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "sk-no-scheme", ""])
async def test_malformed_authorization_headers_are_401(api: Api, header: str) -> None:
    response = await api.get("/v1/me/info", key=None, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
