"""Real databases for the suite: a migrated SQLite template file, and PostgreSQL from the
`pgserver` wheel (or $LOCKGATE_TEST_POSTGRES_URL). Each test gets a fresh copy of a migrated template."""

from __future__ import annotations

import asyncio
import atexit
import itertools
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from lockgate.migrate import upgrade

_counter = itertools.count()


@dataclass
class Postgres:
    """A server we may create databases on; `url` points at its maintenance database."""

    url: str  # postgresql+asyncpg://...

    def database_url(self, name: str) -> str:
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    async def execute(self, sql: str) -> None:
        import asyncpg

        url = make_url(self.url)
        conn = await asyncpg.connect(
            user=url.username,
            password=url.password,
            host=url.query.get("host") or url.host,
            port=url.port,
            database=url.database,
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


def postgres_data_dir(name: str) -> Path:
    """A fresh directory for a pgserver cluster, outside pytest's base temp: run as root, pgserver runs
    PostgreSQL as another user that must traverse the path, and every pytest session that starts resets
    /tmp/pytest-of-<user> to mode 0700 — which made a concurrent `make test` abort this session's server
    (PANIC: pg_control permission denied). Removed at exit, after pgserver (registered later, so run
    earlier) has stopped the server."""
    path = Path(tempfile.mkdtemp(prefix=f"lockgate-{name}-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def start_postgres(base_dir: Path) -> tuple[Postgres | None, str]:
    """Return a server and '' or None and the reason it is unavailable."""
    explicit = os.environ.get("LOCKGATE_TEST_POSTGRES_URL")
    if explicit:
        return Postgres(explicit), ""
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        return None, f"pgserver not installed ({exc})"
    try:
        server = pgserver.get_server(base_dir, cleanup_mode="stop")
    except Exception as exc:  # pragma: no cover - depends on the machine
        return None, f"pgserver failed to start: {exc}"
    socket_dir = make_url(server.get_uri().replace("postgresql://", "postgresql+asyncpg://")).query.get(
        "host"
    )
    return Postgres(f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}"), ""


def loud_skip_message(reason: str) -> str:
    message = f"PostgreSQL tests SKIPPED: {reason}"
    print(f"\n{'!' * 80}\n{message}\n{'!' * 80}", file=sys.stderr)
    return message


def sqlite_template(directory: Path) -> Path:
    path = directory / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def fresh_sqlite(template: Path, directory: Path) -> str:
    target = directory / f"lockgate-{next(_counter)}.db"
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


def postgres_template(pg: Postgres) -> str:
    """Create and migrate the template database once (sync: called from a session fixture)."""
    name = f"lockgate_template_{os.getpid()}"

    async def create() -> None:
        await pg.execute(f"DROP DATABASE IF EXISTS {name}")
        await pg.execute(f"CREATE DATABASE {name}")

    run_in_thread(create)
    upgrade(pg.database_url(name))
    return name


def run_in_thread(coro_fn) -> None:
    """Run a coroutine function to completion on a private loop, whatever loop is running here."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro_fn())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


async def fresh_postgres(pg: Postgres, template: str) -> str:
    name = f"lockgate_test_{os.getpid()}_{next(_counter)}"
    await pg.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return pg.database_url(name)


def fresh_postgres_sync(pg: Postgres, template: str) -> str:
    """fresh_postgres for synchronous (e.g. module-scoped) fixtures."""
    name = f"lockgate_test_{os.getpid()}_{next(_counter)}"

    async def create() -> None:
        await pg.execute(f"CREATE DATABASE {name} TEMPLATE {template}")

    run_in_thread(create)
    return pg.database_url(name)
