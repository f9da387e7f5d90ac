"""Login throttling on a live server: per account, per client address, shared through Redis, and a
login flood that leaves another user's requests served."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from lockgate.config import Settings
from tests import backends
from tests.fakes.upstreams import FakeUpstream
from tests.gateway.conftest import model, provider
from tests.helpers import MASTER_KEY, bearer
from tests.live import Live, live_server

_seq = itertools.count(1)


def _settings(directory, database_url: str, **extra) -> Settings:
    fields = {"login_failures_per_account": 3, "login_failures_per_address": 8, **extra}
    return Settings(
        data_dir=directory,
        database_url=database_url,
        master_key=MASTER_KEY,
        log_format="text",
        local_models="off",
        **fields,
    )


def user(live: Live, password: str = "right-password") -> str:
    email = f"throttle{next(_seq)}@example.org"
    created = live.admin.post("/v1/admin/users", json={"email": email, "password": password, "role": 1})
    assert created.status_code == 201, created.text
    return email


def login(live: Live, email: str, password: str) -> httpx.Response:
    return httpx.post(f"{live.url}/v1/auth/login", json={"email": email, "password": password}, timeout=60)


@pytest.fixture
def live(tmp_path, sqlite_template) -> Iterator[Live]:
    with live_server(_settings(tmp_path, backends.fresh_sqlite(sqlite_template, tmp_path))) as server:
        yield server


def test_an_account_is_throttled_after_its_failures(live: Live) -> None:
    target, bystander = user(live), user(live)
    assert login(live, target, "right-password").status_code == 200  # a success is not counted
    for _ in range(3):
        assert login(live, target, "wrong").status_code == 401
    refused = login(live, target, "right-password")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "Too many failed logins" in refused.text
    assert login(live, bystander, "right-password").status_code == 200  # another account still logs in


def test_an_address_is_throttled_across_accounts(live: Live) -> None:
    emails = [user(live) for _ in range(5)]
    statuses = [login(live, email, "wrong").status_code for email in emails for _ in range(2)]
    assert statuses[:8] == [401] * 8  # eight failures from this address are allowed
    assert statuses[8:] == [429, 429]
    assert login(live, user(live), "right-password").status_code == 429  # the address rests


def test_a_login_flood_leaves_other_users_served(tmp_path, sqlite_template) -> None:
    with FakeUpstream("openai", "up") as upstream:
        settings = _settings(
            tmp_path,
            backends.fresh_sqlite(sqlite_template, tmp_path),
            login_failures_per_address=1_000_000,  # the flood comes from many accounts and is not cut off
            models=[model("chat", "text-generation", provider(upstream))],
        )
        with live_server(settings) as live:
            key = live.admin.post("/v1/admin/tokens", json={"name": "served", "user": 1}).json()["token"]
            stop = threading.Event()
            flood_statuses: list[int] = []

            def flood() -> None:
                with httpx.Client(base_url=live.url, timeout=120) as client:
                    for n in itertools.count():
                        if stop.is_set():
                            return
                        body = {"email": f"nobody{n % 7}@example.org", "password": "guess"}
                        flood_statuses.append(client.post("/v1/auth/login", json=body).status_code)

            workers = [threading.Thread(target=flood, daemon=True) for _ in range(16)]
            for worker in workers:
                worker.start()
            try:
                served = [
                    httpx.post(
                        f"{live.url}/v1/chat/completions",
                        headers=bearer(key),
                        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
                        timeout=60,
                    ).status_code
                    for _ in range(20)
                ]
            finally:
                stop.set()
                for worker in workers:
                    worker.join(timeout=120)
    assert served == [200] * 20
    assert set(flood_statuses) <= {401, 429, 503}
    assert 429 in flood_statuses  # each guessed account is throttled after its failures


def test_failures_are_counted_across_replicas_with_redis(tmp_path, sqlite_template, redis_url) -> None:
    database_url = backends.fresh_sqlite(sqlite_template, tmp_path)
    with ExitStack() as stack:
        first = stack.enter_context(live_server(_settings(tmp_path, database_url, redis_url=redis_url)))
        second = stack.enter_context(live_server(_settings(tmp_path, database_url, redis_url=redis_url)))
        email = user(first)
        for replica in (first, second, first):
            assert login(replica, email, "wrong").status_code == 401
        assert login(second, email, "right-password").status_code == 429
