"""POST /v1/auth/login."""

import time

import pytest

from tests.helpers import Api


async def test_login_returns_a_working_session_key_with_the_configured_lifetime(api: Api) -> None:
    member = await api.create_member([])
    response = await api.post(
        "/v1/auth/login", key=None, json={"email": member.email, "password": member.password}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["key"].startswith("sk-")
    assert (await api.get("/v1/me/info", key=body["key"])).json()["id"] == member.id
    [(expires,)] = await api.sql("SELECT expires FROM api_keys WHERE id = :id", id=body["id"])
    ttl = api.state.settings.session_ttl_seconds
    assert time.time() + ttl - 60 <= expires <= time.time() + ttl + 1


async def test_session_key_is_not_listed_among_api_keys(api: Api) -> None:
    member = await api.create_member([])
    session_key = (
        await api.post("/v1/auth/login", key=None, json={"email": member.email, "password": member.password})
    ).json()
    listed = (await api.get("/v1/me/keys", key=member.key)).json()["data"]
    assert session_key["id"] not in {k["id"] for k in listed}


async def test_a_new_login_revokes_the_previous_session_key(api: Api) -> None:
    member = await api.create_member([])
    creds = {"email": member.email, "password": member.password}
    first = (await api.post("/v1/auth/login", key=None, json=creds)).json()["key"]
    assert (await api.get("/v1/me/info", key=first)).status_code == 200
    second = (await api.post("/v1/auth/login", key=None, json=creds)).json()["key"]
    assert (await api.get("/v1/me/info", key=first)).status_code == 401
    assert (await api.get("/v1/me/info", key=second)).status_code == 200
    assert (await api.get("/v1/me/info", key=member.key)).status_code == 200


@pytest.mark.parametrize("case", ["wrong password", "unknown email"])
async def test_bad_credentials_are_401_with_one_message(api: Api, case: str) -> None:
    member = await api.create_member([])
    body = (
        {"email": member.email, "password": "wrong"}
        if case == "wrong password"
        else {"email": "nobody@example.org", "password": member.password}
    )
    response = await api.post("/v1/auth/login", key=None, json=body)
    assert response.status_code == 401
    assert response.json()["detail"] == "Wrong email or password."


async def test_email_is_matched_case_insensitively(api: Api) -> None:
    member = await api.create_member([])
    body = {"email": member.email.upper(), "password": member.password}
    assert (await api.post("/v1/auth/login", key=None, json=body)).status_code == 200


@pytest.mark.parametrize("body", [{}, {"email": "a@b.org"}, {"email": "", "password": "x"}, []])
async def test_malformed_login_bodies_are_422(api: Api, body) -> None:
    assert (await api.post("/v1/auth/login", key=None, json=body)).status_code == 422


async def test_master_user_has_no_password_to_log_in_with(api: Api) -> None:
    email = (await api.get("/v1/me/info")).json()["email"]
    response = await api.post("/v1/auth/login", key=None, json={"email": email, "password": ""})
    assert response.status_code == 422
    response = await api.post("/v1/auth/login", key=None, json={"email": email, "password": "anything"})
    assert response.status_code == 401
