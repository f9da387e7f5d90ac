"""What the CLI commands that talk to a running Lockgate share: the key, one-line failures (exit 2), and
reading an answer's body and its error."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.markup import escape

from lockgate.cli.common import console

if TYPE_CHECKING:
    import aiohttp


def fail(message: str) -> NoReturn:
    console.print(f"[red]Error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(2)


def api_key_or_exit(key: str | None) -> str:
    api_key = key or os.environ.get("LOCKGATE_API_KEY")
    if not api_key:
        fail("give --key or set LOCKGATE_API_KEY.")
    return api_key


def detail(status: int, body: Any) -> str:
    """'<status> <message>' from any of Lockgate's error dialects."""
    if isinstance(body, dict):
        message = body.get("detail") or body.get("message") or body.get("error") or body
        if isinstance(message, dict):
            message = message.get("message", message)
        return f"{status} {message}"
    return f"{status} {body}"


async def json_body(response: aiohttp.ClientResponse) -> Any:
    """The JSON body, or the text when it is not JSON (a proxy's error page)."""
    try:
        return await response.json(content_type=None)
    except ValueError:
        return await response.text()
