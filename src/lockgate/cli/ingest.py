"""`lockgate ingest PATH --collection ID`: upload a file or a folder to a running Lockgate, with a progress
bar. Each file goes through POST /v1/documents (parse → chunk → embed → one transaction)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from lockgate.cli.common import console
from lockgate.rag.parsing import KINDS


def files_under(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in KINDS)


def ingest(
    path: Annotated[Path, typer.Argument(exists=True, help="A file, or a folder read recursively.")],
    collection: Annotated[int, typer.Option(help="Target collection ID.")],
    url: Annotated[str, typer.Option(help="Lockgate base URL.")] = "http://127.0.0.1:8000",
    key: Annotated[str | None, typer.Option(help="API key (default: $LOCKGATE_API_KEY).")] = None,
    chunk_size: Annotated[int, typer.Option(help="Chunk size in characters.")] = 2048,
) -> None:
    """Upload documents into a collection."""
    import asyncio

    import aiohttp  # noqa: F401  (the server's client; httpx is not a runtime dependency)

    api_key = key or os.environ.get("LOCKGATE_API_KEY")
    if not api_key:
        console.print("[red]Give --key or set LOCKGATE_API_KEY.[/red]")
        raise typer.Exit(2)
    files = files_under(path)
    if not files:
        console.print(f"[yellow]No supported files under {path} ({', '.join(sorted(KINDS))}).[/yellow]")
        raise typer.Exit(1)
    failures = asyncio.run(_upload(files, collection, url.rstrip("/"), api_key, chunk_size))
    done = len(files) - len(failures)
    console.print(f"[green]{done} document(s) ingested[/green], {len(failures)} refused.")
    for name, reason in failures:
        console.print(f"  [red]{name}[/red]: {reason}")
    if failures:
        raise typer.Exit(1)


async def _upload(
    files: list[Path], collection: int, url: str, key: str, chunk_size: int
) -> list[tuple[str, str]]:
    import aiohttp

    failures: list[tuple[str, str]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as session:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("ingesting", total=len(files))
            for file in files:
                form = aiohttp.FormData()
                form.add_field("collection_id", str(collection))
                form.add_field("chunk_size", str(chunk_size))
                form.add_field("file", file.read_bytes(), filename=file.name)
                try:
                    async with session.post(f"{url}/v1/documents", data=form) as response:
                        if response.status != 201:
                            body = await response.json(content_type=None)
                            failures.append((file.name, f"{response.status} {body.get('detail', body)}"))
                except aiohttp.ClientError as exc:
                    failures.append((file.name, f"unreachable: {exc}"))
                progress.update(task, advance=1, description=file.name[:40])
    return failures
