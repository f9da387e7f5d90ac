"""Console sign-in, CSRF, sign-out and permissions, on SQLite and PostgreSQL (no browser needed)."""

from __future__ import annotations

import re
import time

from lockgate.identity.access import MASTER_EMAIL
from tests.web.console import Console


async def test_pages_need_a_session(app):
    async with Console(app) as ui:
        response = await ui.get("/ui/playground")
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/login?next=/ui/playground"
        assert (await ui.get("/ui/admin/users")).status_code == 303


async def test_sign_in_sets_a_secure_httponly_samesite_cookie(api, app):
    member = await api.create_member()
    async with Console(app) as ui:
        await ui.get("/ui/login")
        response = await ui.post("/ui/login", {"email": member.email, "password": member.password})
        assert response.status_code == 303
        cookie = response.headers["set-cookie"].lower()
        # __Host-: the browser refuses a same-named cookie planted by a subdomain or another path
        assert cookie.startswith("__host-lockgate_session=")
        for flag in ("httponly", "secure", "samesite=strict", "path=/;"):
            assert flag in cookie
        assert "domain=" not in cookie
        page = await ui.get("/ui/playground")
        assert page.status_code == 200
        assert member.email in page.text


async def test_wrong_password_is_refused_on_the_form(api, app):
    member = await api.create_member()
    async with Console(app) as ui:
        await ui.get("/ui/login")
        response = await ui.post("/ui/login", {"email": member.email, "password": "not-the-password"})
        assert response.status_code == 401
        assert "Wrong email or password" in response.text
        assert "lockgate_session" not in response.headers.get("set-cookie", "")
        assert (await ui.get("/ui/playground")).status_code == 303


async def test_posts_without_a_valid_csrf_token_are_refused(api, app):
    member = await api.create_member()
    async with Console(app) as ui:
        await ui.get("/ui/login")
        no_token = await ui.post(
            "/ui/login", {"email": member.email, "password": member.password}, csrf=False
        )
        assert no_token.status_code == 403
        assert "CSRF" in no_token.text
        await ui.sign_in(member.email, member.password)
        for data in ({}, {"csrf_token": "0" * 64}):
            refused = await ui.client.post("/ui/keys", data={"name": "forged", **data})
            assert refused.status_code == 403
        forged = await ui.client.post("/ui/keys", data={"name": "forged"}, headers={"X-CSRF-Token": "f" * 64})
        assert forged.status_code == 403
        keys = await api.get("/v1/me/keys", key=member.key)
        assert [k["name"] for k in keys.json()["data"]] == ["k"]  # nothing was created
        accepted = await ui.post("/ui/keys", {"name": "made-in-console"})
        assert accepted.status_code == 201


async def test_a_token_from_another_browser_is_refused(api, app):
    member = await api.create_member()
    async with Console(app) as mine, Console(app) as theirs:
        await mine.sign_in(member.email, member.password)
        await theirs.get("/ui/login")  # a different seed cookie: its token must not work in mine
        stolen = await mine.client.post("/ui/keys", data={"name": "k", "csrf_token": theirs.csrf})
        assert stolen.status_code == 403


async def test_sign_out_ends_the_session(api, app):
    member = await api.create_member()
    async with Console(app) as ui:
        await ui.sign_in(member.email, member.password)
        cookie = ui.client.cookies.get("__Host-lockgate_session")
        response = await ui.post("/ui/logout")
        assert response.status_code == 303
        assert (await ui.get("/ui/playground")).status_code == 303
        # the session key itself is revoked, not only forgotten by this browser
        assert (await api.get("/v1/me/info", key=cookie)).status_code == 401


async def test_a_cookie_without_the_host_prefix_is_not_a_session(api, app):
    """A cookie a subdomain or another path could plant (no __Host- prefix) never signs anyone in."""
    member = await api.create_member()
    async with Console(app) as signed_in, Console(app) as tossed:
        await signed_in.sign_in(member.email, member.password)
        key = signed_in.client.cookies.get("__Host-lockgate_session")
        assert key
        tossed.client.cookies.set("lockgate_session", key, domain="lockgate.test", path="/ui")
        assert (await tossed.get("/ui/playground")).status_code == 303


async def test_non_admins_see_no_admin_page_and_get_403(api, app):
    member = await api.create_member()
    async with Console(app) as ui:
        await ui.sign_in(member.email, member.password)
        home = await ui.get("/ui/playground")
        assert "/ui/admin/" not in home.text
        for path in (
            "/ui/admin/users",
            "/ui/admin/roles",
            "/ui/admin/organizations",
            "/ui/admin/keys",
            "/ui/admin/models",
        ):
            assert (await ui.get(path)).status_code == 403
        created = await ui.post(
            "/ui/admin/users", {"email": "x@example.org", "password": "12345678", "role": 1}
        )
        assert created.status_code == 403
        assert (await api.get("/v1/admin/users?limit=100")).json()["data"][-1]["email"] != "x@example.org"


async def test_admin_creates_a_user_and_a_key_shown_once(api, app):
    admin = await api.create_member(permissions=["admin"])
    user_role = await api.create_role()
    async with Console(app) as ui:
        await ui.sign_in(admin.email, admin.password)
        users = await ui.get("/ui/admin/users")
        assert users.status_code == 200 and MASTER_EMAIL in users.text
        made = await ui.post(
            "/ui/admin/users",
            {
                "email": "new@example.org",
                "password": "long-enough",
                "role": str(user_role),
                "organization": "",
            },
        )
        assert made.status_code == 303
        assert "new@example.org" in (await ui.get("/ui/admin/users")).text
        created = await ui.post("/ui/keys", {"name": "ci", "days": ""})
        secret = created.text.split("data-secret>")[1].split("<")[0]
        assert secret.startswith("sk-")
        assert (await api.get("/v1/me/info", key=secret)).status_code == 200
        listing = await ui.get("/ui/keys")
        assert secret not in listing.text  # never shown again


async def test_another_users_cookie_never_shows_this_users_collections(api, app):
    alice = await api.create_member()
    bob = await api.create_member()
    made = await api.post("/v1/collections", key=alice.key, json={"name": "alice-private-notes"})
    assert made.status_code == 201
    async with Console(app) as ui:
        await ui.sign_in(bob.email, bob.password)
        page = await ui.get("/ui/playground")
        assert page.status_code == 200
        assert "alice-private-notes" not in page.text


async def test_usage_page_and_csv_show_only_ones_own_usage(api, app):
    alice = await api.create_member()
    bob = await api.create_member()
    # usage rows as the recorder writes them: one for alice, one for bob
    for member, model in ((alice, "alice-model"), (bob, "bob-model")):
        api.state.accountant.recorder.record(
            {
                "request_id": f"r-{member.id}",
                "created": int(time.time()),
                "user_id": member.id,
                "key_id": None,
                "key_name": "k",
                "router_id": None,
                "model": model,
                "provider_id": None,
                "endpoint": "/v1/chat/completions",
                "method": "POST",
                "status": 200,
                "prompt_tokens": 3,
                "completion_tokens": 4,
                "total_tokens": 7,
                "estimated": False,
                "cost": 0.5,
                "kwh_min": 0.0,
                "kwh_max": 0.0,
                "kgco2eq_min": 0.001,
                "kgco2eq_max": 0.002,
                "latency_ms": 1.0,
                "ttft_ms": None,
            }
        )
    async with Console(app) as ui:
        await ui.sign_in(alice.email, alice.password)
        page = await ui.get("/ui/usage?days=1")
        assert page.status_code == 200
        assert 'data-requests="1"' in page.text
        assert "alice-model" in page.text and "bob-model" not in page.text
        assert (await ui.get("/ui/usage?days=1&user=" + str(bob.id))).text.count("bob-model") == 0
        exported = await ui.get("/ui/usage.csv?days=1")
        assert exported.headers["content-type"].startswith("text/csv")
        lines = exported.text.strip().splitlines()
        assert len(lines) == 2 and "alice-model" in lines[1]
    admin = await api.create_member(permissions=["admin"])
    async with Console(app) as ui:
        await ui.sign_in(admin.email, admin.password)
        everyone = await ui.get("/ui/usage?days=1")
        assert "alice-model" in everyone.text and "bob-model" in everyone.text
        assert alice.email in everyone.text  # the table names the user
        only_bob = await ui.get(f"/ui/usage.csv?days=1&user={bob.id}")
        assert "bob-model" in only_bob.text and "alice-model" not in only_bob.text


async def test_admin_makes_a_key_for_a_user_and_revokes_it(api, app):
    admin = await api.create_member(permissions=["admin"])
    member = await api.create_member()
    async with Console(app) as ui:
        await ui.sign_in(admin.email, admin.password)
        created = await ui.post("/ui/admin/keys", {"user": str(member.id), "name": "handed-over"})
        assert created.status_code == 201
        secret = created.text.split("data-secret>")[1].split("<")[0]
        me = await api.get("/v1/me/info", key=secret)
        assert me.status_code == 200 and me.json()["email"] == member.email
        listing = await ui.get("/ui/admin/keys")
        assert secret not in listing.text
        row = re.search(r'data-key="handed-over".*?/ui/admin/keys/(\d+)/revoke', listing.text, re.DOTALL)
        key_id = row.group(1)
        assert (await ui.post(f"/ui/admin/keys/{key_id}/revoke")).status_code == 303
        assert (await api.get("/v1/me/info", key=secret)).status_code == 401


async def test_admin_sets_a_role_limit_and_makes_an_organization(api, app):
    admin = await api.create_member(permissions=["admin"])
    router_id = await api.create_router()
    role_id = await api.create_role()
    async with Console(app) as ui:
        await ui.sign_in(admin.email, admin.password)
        assert (await ui.get("/ui/admin/roles")).status_code == 200
        limited = await ui.post(
            f"/ui/admin/roles/{role_id}/limits", {"model": router_id, "type": "rpm", "value": 5}
        )
        assert limited.status_code == 303
        role = (await api.get(f"/v1/admin/roles/{role_id}")).json()
        assert role["limits"] == [{"router": router_id, "type": "rpm", "value": 5}]
        bad = await ui.post(
            f"/ui/admin/roles/{role_id}/limits", {"model": router_id, "type": "rpx", "value": 5}
        )
        assert bad.status_code == 422 and "type" in bad.text
        made = await ui.post("/ui/admin/organizations", {"name": "Harbour office"})
        assert made.status_code == 303
        assert "Harbour office" in (await ui.get("/ui/admin/organizations")).text


async def test_model_admin_adds_a_model_and_a_checked_provider(api, app):
    from tests.fakes.server import FakeUpstream

    provider_admin = await api.create_member(permissions=["provide_models"])
    async with Console(app) as ui:
        await ui.sign_in(provider_admin.email, provider_admin.password)
        assert (await ui.get("/ui/admin/users")).status_code == 403  # models only
        made = await ui.post("/ui/admin/models", {"name": "team-chat", "type": "text-generation"})
        assert made.status_code == 303
        router_id = api.state.gateway.registry.resolve("team-chat").id
        bad = await ui.post(
            f"/ui/admin/models/{router_id}/providers",
            {"type": "openai", "url": "ftp://nowhere", "model_name": "m"},
        )
        assert bad.status_code == 422 and "url" in bad.text
        with FakeUpstream("openai", model="upstream-chat") as fake:
            added = await ui.post(
                f"/ui/admin/models/{router_id}/providers",
                {"type": "openai", "url": fake.url, "model_name": "upstream-chat", "key": "sk-up"},
            )
            assert added.status_code == 303, added.text
            page = await ui.get("/ui/admin/models")
            assert 'data-router="team-chat"' in page.text and 'data-health="healthy"' in page.text
            assert "sk-up" not in page.text
        down = await ui.post(
            f"/ui/admin/models/{router_id}/providers",
            {"type": "openai", "url": fake.url, "model_name": "other-model"},
        )
        assert down.status_code == 424  # probed first: an unreachable upstream is not saved
