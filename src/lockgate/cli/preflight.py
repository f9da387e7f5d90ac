"""The first mistakes anyone makes, said in one line with exit status 2 instead of a traceback: a
database that cannot be reached, refuses the login or lacks pgvector."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from typing import NoReturn

import typer
from rich.markup import escape
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from lockgate.cli.common import console
from lockgate.kit.db import build_engine
from lockgate.migrate import DatabaseSetupError, upgrade

CONNECT_TIMEOUT_SECONDS = 10.0


def fail(message: str) -> NoReturn:
    console.print(f"[red]Error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(2)


def where(url: URL) -> str:
    """host:port (or the socket directory, or the SQLite file) — never the password."""
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {url.database}"
    socket_dir = url.query.get("host")
    if socket_dir and not url.host:
        return f"socket {socket_dir}"
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def explain(exc: BaseException, database_url: str) -> str | None:
    """One line for a database failure we recognise, else None (then the traceback is the truth)."""
    url = make_url(database_url)
    target = where(url)
    for cause in _chain(exc):
        name = type(cause).__name__
        if isinstance(cause, DatabaseSetupError):
            return str(cause)
        if name == "InvalidPasswordError" or name == "InvalidAuthorizationSpecificationError":
            return f"the database at {target} refused user '{url.username}': {cause}"
        if name == "InvalidCatalogNameError":
            return f"database '{url.database}' does not exist on {target} (create it, then start again)"
        if isinstance(cause, socket.gaierror):
            return f"cannot reach the database at {target}: unknown host '{url.host}'"
        if isinstance(cause, ConnectionRefusedError):
            return f"cannot reach the database at {target}: connection refused (is PostgreSQL running there?)"
        if isinstance(cause, TimeoutError):
            return f"cannot reach the database at {target}: no answer within {CONNECT_TIMEOUT_SECONDS:g} s"
        if isinstance(cause, sqlite3.OperationalError) and "unable to open" in str(cause):
            return f"cannot open the {target}: check that its directory exists and is writable"
        if isinstance(cause, OSError) and cause.strerror:
            return f"cannot reach the database at {target}: {cause.strerror}"
    return None


def migrate_or_exit(database_url: str) -> None:
    try:
        upgrade(database_url)
    except Exception as exc:
        message = explain(exc, database_url)
        if message is None:
            raise
        fail(message)


def check_database_or_exit(database_url: str) -> None:
    """Connect once (serve --no-migrate): fail fast and clearly rather than inside the server."""

    async def ping() -> None:
        engine = build_engine(database_url, pool_size=1)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS), engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        asyncio.run(ping())
    except Exception as exc:
        message = explain(exc, database_url)
        if message is None:
            raise
        fail(message)
