"""The database: one async engine per process, short transactions, SQLite and PostgreSQL alike."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from lockgate.kit.private_files import private_dir, private_file

# Stable constraint names so Alembic autogenerate and both backends agree.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# `__table_args__` of every table whose ids clients see: on SQLite an id is then never handed out again
# after a delete (without it SQLite reuses max(id) + 1, so a new object answers to a deleted one's id).
# PostgreSQL sequences never go back.
IDS_NEVER_REUSED = {"sqlite_autoincrement": True}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def build_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            private_dir(Path(database).parent)
            private_file(Path(database))
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=POOL_RECYCLE_SECONDS
    )
    _ping_when_idle(engine)
    return engine


# A pooled connection is pinged before use only when it sat idle this long (or never served): a ping on
# every checkout is one more round trip per transaction (ADR 0025). One that broke within the window
# fails its request with 503 + Retry-After (`api/errors.py`) and that disconnect renews the whole pool.
PING_AFTER_IDLE_SECONDS = 10.0
POOL_RECYCLE_SECONDS = 1800  # no connection lives longer: bounds what a silent network drop can leave


def _ping_when_idle(engine: AsyncEngine) -> None:
    dialect = engine.sync_engine.dialect

    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned"] = time.monotonic()

    def check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get("returned")
        if returned_at is not None and time.monotonic() - returned_at < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:  # the pool opens a new connection, and renews the others
            raise exc.InvalidatePoolError("pooled connection failed its ping") from error

    event.listen(engine.sync_engine, "connect", returned)  # just opened: alive
    event.listen(engine.sync_engine, "checkin", returned)
    event.listen(engine.sync_engine, "checkout", check)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """Owns the engine; hands out one short transaction at a time."""

    def __init__(self, url: str, pool_size: int = 10):
        self.url = url
        self.engine = build_engine(url, pool_size)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on any error."""
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def lazy_transaction(self) -> AsyncIterator[Callable[[], Awaitable[AsyncSession]]]:
        """Like `transaction`, opened by the first call of the yielded function (later calls return the
        same session): a read the per-process caches answer whole takes no connection at all."""
        async with AsyncExitStack() as stack:
            opened: list[AsyncSession] = []

            async def session() -> AsyncSession:
                if not opened:
                    opened.append(await stack.enter_async_context(self.transaction()))
                return opened[0]

            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
