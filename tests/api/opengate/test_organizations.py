"""/v1/admin/organizations."""

from tests.helpers import Api


async def test_organization_lifecycle_with_user_count(api: Api) -> None:
    created = await api.post("/v1/admin/organizations", json={"name": "Acme"})
    assert created.status_code == 201
    org_id = created.json()["id"]
    member = await api.create_member([], organization=org_id)
    org = (await api.get(f"/v1/admin/organizations/{org_id}")).json()
    assert (org["object"], org["name"], org["users"]) == ("organization", "Acme", 1)

    assert (
        await api.patch(f"/v1/admin/organizations/{org_id}", json={"name": "Acme Corp"})
    ).status_code == 204
    listed = (await api.get("/v1/admin/organizations")).json()["data"]
    assert [(o["id"], o["name"], o["users"]) for o in listed] == [(org_id, "Acme Corp", 1)]

    refused = await api.delete(f"/v1/admin/organizations/{org_id}")
    assert refused.status_code == 409
    assert "user" in refused.json()["detail"]
    await api.patch(f"/v1/admin/users/{member.id}", json={"organization": None})
    assert (await api.delete(f"/v1/admin/organizations/{org_id}")).status_code == 204
    assert (await api.get(f"/v1/admin/organizations/{org_id}")).status_code == 404


async def test_duplicate_and_empty_names(api: Api) -> None:
    assert (await api.post("/v1/admin/organizations", json={"name": "Same"})).status_code == 201
    assert (await api.post("/v1/admin/organizations", json={"name": "Same"})).status_code == 409
    empty = await api.post("/v1/admin/organizations", json={"name": "   "})
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"] == ["body", "name"]


async def test_unknown_organization_is_404(api: Api) -> None:
    assert (await api.get("/v1/admin/organizations/31337")).status_code == 404
    assert (await api.patch("/v1/admin/organizations/31337", json={"name": "x"})).status_code == 404
    assert (await api.delete("/v1/admin/organizations/31337")).status_code == 404


async def test_organizations_order_by_name_desc(api: Api) -> None:
    for name in ("b", "c", "a"):
        await api.post("/v1/admin/organizations", json={"name": name})
    params = {"order_by": "name", "order_direction": "desc"}
    names = [o["name"] for o in (await api.get("/v1/admin/organizations", params=params)).json()["data"]]
    assert names == ["c", "b", "a"]
