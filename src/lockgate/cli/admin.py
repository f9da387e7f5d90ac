"""`lockgate admin ...`: manage identities directly in the database (no running server needed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from lockgate.cli.common import ConfigOption, console, settings_or_exit
from lockgate.errors import AppError
from lockgate.identity.access import ADMIN_ROLE, AccessService
from lockgate.identity.authenticator import Authenticator
from lockgate.identity.service import IdentityService
from lockgate.kit.db import Database
from lockgate.kit.pagination import Page
from lockgate.kit.secrets import generate_api_key

app = typer.Typer(help="Manage users, roles and keys directly in the database.", no_args_is_help=True)
T = TypeVar("T")


def _run(config: Path | None, work: Callable[[IdentityService, AccessService], Awaitable[T]]) -> T:
    from lockgate.cli.preflight import migrate_or_exit

    settings = settings_or_exit(config)
    migrate_or_exit(settings.resolved_database_url)

    async def main() -> T:
        db = Database(settings.resolved_database_url)
        auth = Authenticator(db, 0)
        access = AccessService(db, auth, settings.session_ttl_seconds)
        try:
            boot = await access.bootstrap(settings.master_key)
            if boot.generated_master_key:
                console.print(f"Lockgate master key (shown once, store it now): {boot.generated_master_key}")
            return await work(IdentityService(db, auth), access)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except AppError as exc:
        console.print(f"[red]Error ({exc.status_code}):[/red] {exc.message}")
        raise typer.Exit(1) from exc


async def _role_id(identity: IdentityService, name_or_id: str) -> int:
    if name_or_id.isdigit():
        return int(name_or_id)
    for role in await identity.list_roles(Page(limit=100)):
        if role.name == name_or_id:
            return role.id
    console.print(f"[red]No role named '{name_or_id}'.[/red]")
    raise typer.Exit(1)


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="Login email (unique).")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    role: Annotated[str, typer.Option(help="Role name or ID.")] = ADMIN_ROLE,
    name: Annotated[str | None, typer.Option()] = None,
    config: ConfigOption = None,
) -> None:
    """Create a user (default role: admin)."""

    async def work(identity: IdentityService, _: AccessService) -> int:
        return await identity.create_user(
            email=email, password=password, role=await _role_id(identity, role), name=name
        )

    user_id = _run(config, work)
    console.print(f"[green]Created user {user_id}[/green] ({email})")


@app.command("create-key")
def create_key(
    email: Annotated[str, typer.Option(help="Email of the user who will own the key.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
    config: ConfigOption = None,
) -> None:
    """Create an API key for a user and print it (shown once)."""

    async def work(identity: IdentityService, access: AccessService) -> str:
        users = await identity.list_users(Page(limit=1), email=email)
        if not users:
            console.print(f"[red]No user with email '{email}'.[/red]")
            raise typer.Exit(1)
        return (await access.create_key(users[0].id, name)).key

    typer.echo(_run(config, work))


@app.command("create-role")
def create_role(
    name: Annotated[str, typer.Option(help="Role name (unique).")],
    permission: Annotated[list[str] | None, typer.Option(help="Repeatable: admin, read_metric, ...")] = None,
    config: ConfigOption = None,
) -> None:
    """Create a role with permissions."""

    async def work(identity: IdentityService, _: AccessService) -> int:
        return await identity.create_role(name, permission or [], [])

    console.print(f"[green]Created role {_run(config, work)}[/green] ({name})")


@app.command("reset-master-key")
def reset_master_key(config: ConfigOption = None) -> None:
    """Replace the master key with a new random one and print it (when LOCKGATE_MASTER_KEY is unset)."""
    settings = settings_or_exit(config)
    if settings.master_key:
        console.print("[red]LOCKGATE_MASTER_KEY is set: the master key comes from it; change it there.[/red]")
        raise typer.Exit(1)
    new_key = generate_api_key()

    async def work(_: IdentityService, access: AccessService) -> None:
        await access.bootstrap(new_key)

    _run(config, work)
    typer.echo(new_key)
