"""/v1/admin/roles."""

import pytest

from tests.helpers import Api


async def test_create_and_read_a_role_with_permissions_and_limits(api: Api) -> None:
    r1 = await api.create_router()
    body = {
        "name": "analysts",
        "permissions": ["read_metric", "create_public_collection"],
        "limits": [{"router": r1, "type": "rpm", "value": 60}, {"router": r1, "type": "tpd", "value": None}],
    }
    created = await api.post("/v1/admin/roles", json=body)
    assert created.status_code == 201
    role = (await api.get(f"/v1/admin/roles/{created.json()['id']}")).json()
    assert role["object"] == "role"
    assert role["name"] == "analysts"
    assert sorted(role["permissions"]) == ["create_public_collection", "read_metric"]
    assert role["limits"] == body["limits"]
    assert role["users"] == 0
    assert role["created"] > 1_700_000_000


async def test_duplicate_role_name_is_a_conflict(api: Api) -> None:
    assert (await api.post("/v1/admin/roles", json={"name": "dup"})).status_code == 201
    response = await api.post("/v1/admin/roles", json={"name": "dup"})
    assert response.status_code == 409
    assert "dup" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "r", "permissions": ["superuser"]}, "permissions"),
        ({"name": "r", "limits": [{"router": 1, "type": "rph", "value": 1}]}, "limits"),
        ({"name": "r", "limits": [{"router": 1, "type": "rpm", "value": -5}]}, "limits"),
        ({"permissions": []}, "name"),
    ],
)
async def test_bad_role_bodies_are_422_naming_the_field(api: Api, body: dict, field: str) -> None:
    response = await api.post("/v1/admin/roles", json=body)
    assert response.status_code == 422
    assert any(field in err["loc"] for err in response.json()["detail"])


async def test_malformed_json_is_422_not_500(api: Api) -> None:
    response = await api.post(
        "/v1/admin/roles", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


async def test_duplicate_limits_are_refused(api: Api) -> None:
    r = await api.create_router()
    limits = [{"router": r, "type": "tpm", "value": 1}, {"router": r, "type": "tpm", "value": 2}]
    response = await api.post("/v1/admin/roles", json={"name": "twice", "limits": limits})
    assert response.status_code == 422  # FastAPI's HTTPValidationError shape, as declared
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "limits"] and "duplicate" in error["msg"]


async def test_update_replaces_name_permissions_and_limits(api: Api) -> None:
    r1, r3 = await api.create_router(), await api.create_router()
    role_id = await api.create_role(["read_metric"], [{"router": r1, "type": "rpm", "value": 5}])
    patch = {
        "name": "renamed",
        "permissions": ["admin"],
        "limits": [{"router": r3, "type": "tpm", "value": 9}],
    }
    assert (await api.patch(f"/v1/admin/roles/{role_id}", json=patch)).status_code == 204
    role = (await api.get(f"/v1/admin/roles/{role_id}")).json()
    assert (role["name"], role["permissions"], role["limits"]) == ("renamed", ["admin"], patch["limits"])


async def test_partial_update_leaves_other_fields(api: Api) -> None:
    r1 = await api.create_router()
    role_id = await api.create_role(["read_metric"], [{"router": r1, "type": "rpm", "value": 5}])
    assert (await api.patch(f"/v1/admin/roles/{role_id}", json={"name": "only-name"})).status_code == 204
    role = (await api.get(f"/v1/admin/roles/{role_id}")).json()
    assert role["permissions"] == ["read_metric"]
    assert role["limits"] == [{"router": r1, "type": "rpm", "value": 5}]


async def test_permission_change_applies_to_existing_keys_at_once(api: Api) -> None:
    member = await api.create_member([])
    assert (await api.get("/metrics", key=member.key)).status_code == 403
    await api.patch(f"/v1/admin/roles/{member.role}", json={"permissions": ["read_metric"]})
    assert (await api.get("/metrics", key=member.key)).status_code == 200


async def test_deleting_a_role_in_use_is_refused_then_allowed_once_free(api: Api) -> None:
    member = await api.create_member([])
    response = await api.delete(f"/v1/admin/roles/{member.role}")
    assert response.status_code == 409
    assert (await api.get(f"/v1/admin/roles/{member.role}")).json()["users"] == 1
    assert (await api.delete(f"/v1/admin/users/{member.id}")).status_code == 204
    assert (await api.delete(f"/v1/admin/roles/{member.role}")).status_code == 204
    assert (await api.get(f"/v1/admin/roles/{member.role}")).status_code == 404


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_unknown_role_is_404(api: Api, method: str) -> None:
    kwargs = {"json": {"name": "x"}} if method == "PATCH" else {}
    response = await api.request(method, "/v1/admin/roles/999999", **kwargs)
    assert response.status_code == 404
    assert "999999" in response.json()["detail"]


async def test_list_paginates_and_orders(api: Api) -> None:
    for name in ("c-role", "a-role", "b-role"):
        await api.post("/v1/admin/roles", json={"name": name})
    page = (await api.get("/v1/admin/roles", params={"order_by": "name", "limit": 100})).json()
    names = [r["name"] for r in page["data"]]
    assert page["object"] == "list"
    assert names == sorted(names)
    desc = (await api.get("/v1/admin/roles", params={"order_by": "name", "order_direction": "desc"})).json()
    assert [r["name"] for r in desc["data"]][:3] == sorted(names, reverse=True)[:3]
    first = (await api.get("/v1/admin/roles", params={"limit": 2})).json()["data"]
    second = (await api.get("/v1/admin/roles", params={"limit": 2, "offset": 2})).json()["data"]
    assert len(first) == 2
    assert not {r["id"] for r in first} & {r["id"] for r in second}


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"order_by": "password"}, {"order_direction": "up"}],
)
async def test_pagination_bounds_are_422(api: Api, params: dict) -> None:
    response = await api.get("/v1/admin/roles", params=params)
    assert response.status_code == 422
    assert any(next(iter(params)) in err["loc"] for err in response.json()["detail"])


async def test_limits_must_name_existing_routers_and_go_with_them(api: Api) -> None:
    missing = await api.post(
        "/v1/admin/roles", json={"name": "r", "limits": [{"router": 424242, "type": "rpm", "value": 1}]}
    )
    assert missing.status_code == 422
    (error,) = missing.json()["detail"]
    assert error["loc"] == ["body", "limits"] and "424242" in error["msg"]
    router = await api.create_router()
    role_id = await api.create_role([], [{"router": router, "type": "rpm", "value": 1}])
    assert (await api.delete(f"/v1/admin/routers/{router}")).status_code == 204
    assert (await api.get(f"/v1/admin/roles/{role_id}")).json()["limits"] == []
