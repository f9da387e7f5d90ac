"""The PostgreSQL pool pings a connection only after it sat idle (ADR 0025): one the server dropped while
idle is replaced unseen; one dropped within the idle window fails one transaction as a lost connection
(the API's 503 + Retry-After), after which the pool is renewed and serves again."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from lockgate.kit import db as db_module
from lockgate.kit.db import Database
from tests import backends


@pytest.fixture
async def postgres_database(postgres):
    found, reason = postgres
    if found is None:
        pytest.skip(reason)
    database = Database(await backends.fresh_postgres(*found), pool_size=1)
    yield database
    await database.dispose()


async def backend_pid(database: Database) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)


async def drop_connection(database: Database, pid: int) -> None:
    """The server ends the pooled connection `pid` (as a restart or an idle timeout would)."""
    killer = Database(database.url, pool_size=1)
    try:
        async with killer.transaction() as session:
            assert await session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await killer.dispose()


async def test_a_connection_dropped_while_idle_is_replaced_by_the_ping(
    postgres_database, monkeypatch
) -> None:
    first = await backend_pid(postgres_database)
    await drop_connection(postgres_database, first)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)  # as after a long idle
    assert await backend_pid(postgres_database) not in (0, first)


async def test_a_connection_dropped_within_the_window_fails_once_then_the_pool_is_renewed(
    postgres_database, monkeypatch
) -> None:
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
    first = await backend_pid(postgres_database)
    await drop_connection(postgres_database, first)
    with pytest.raises(DBAPIError) as failed:
        await backend_pid(postgres_database)
    assert failed.value.connection_invalidated  # rendered as 503 + Retry-After by api/errors.py
    assert await backend_pid(postgres_database) not in (0, first)
