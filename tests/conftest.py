"""Fixtures: every API test runs against SQLite and PostgreSQL, on a fresh migrated database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest

from lockgate.app import create_app
from lockgate.config import Settings
from tests import backends
from tests.helpers import MASTER_KEY, Api


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory):
    return backends.sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres():
    """(server, template database name), or (None, reason) — skipped loudly, and never on CI."""
    server, reason = backends.start_postgres(backends.postgres_data_dir("pgdata"))
    if server is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test PostgreSQL, but: {reason}")
        return None, backends.loud_skip_message(reason)
    return (server, backends.postgres_template(server)), ""


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path, sqlite_template) -> str:
    if request.param == "sqlite":
        return backends.fresh_sqlite(sqlite_template, tmp_path)
    found, reason = request.getfixturevalue("postgres")
    if found is None:
        pytest.skip(reason)
    server, template = found
    return await backends.fresh_postgres(server, template)


@pytest.fixture
def settings(database_url: str, tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        master_key=MASTER_KEY,
        log_format="text",
        local_models="off",
        # the fake upstreams live on 127.0.0.1, which providers added through the API may not reach
        # unless allowed (SSRF guard): allowed here, on purpose
        provider_allowed_networks=["127.0.0.0/8"],
    )


@pytest.fixture
async def app(settings: Settings):
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def api(app) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lockgate.test") as client:
        yield Api(client, app.state.lockgate)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory):
    """A real Redis for the whole session — skipped loudly when absent, never on CI."""
    from tests.redis_server import start_redis

    process, url_or_reason = start_redis(tmp_path_factory.mktemp("redis"))
    if process is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test Redis, but: {url_or_reason}")
        pytest.skip(backends.loud_skip_message(url_or_reason).replace("PostgreSQL", "Redis"))
    yield url_or_reason
    process.terminate()
    process.wait(timeout=10)
