"""`lockgate ingest PATH --collection NAME|ID [--sync]`: keep a collection in step with a file or a folder.

Key, URL and collection are checked once up front (one clear error, exit 2). Each file is the document
named by its path under the folder: files whose bytes match the document of their name are `unchanged`
(not even uploaded: the collection's manifest lists every document's file hash); the others go up in
batches through POST /v1/collections/{id}/sync (created, or replacing the old version); `--sync` also
removes the documents whose files are gone. Unsupported files are listed as skipped. Exit 0 when every
file is ingested or unchanged, 1 when some failed."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from lockgate.cli.common import console
from lockgate.rag.parsing import KINDS, SUPPORTED

if TYPE_CHECKING:  # aiohttp is imported when a command runs (the CLI starts fast)
    import aiohttp

BATCH_FILES = 64
BATCH_BYTES = 8 * 1024 * 1024
IN_FLIGHT = 2  # batches uploading at once: the server reads one while it embeds the other
TIMEOUT_SECONDS = 1800


@dataclass(frozen=True, slots=True)
class LocalFile:
    name: str  # the document's name: the path under the folder, with '/'
    path: Path
    digest: str


def scan(path: Path) -> tuple[list[LocalFile], list[tuple[str, str]]]:
    """The supported files under `path` (a file, or a folder read recursively, hidden entries left out)
    and the skipped ones with why."""
    if path.is_file():
        candidates, root = [path], path.parent
    else:
        root = path
        candidates = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    files, skipped = [], []
    for candidate in candidates:
        name = candidate.relative_to(root).as_posix()
        if candidate.suffix.lower() not in KINDS:
            skipped.append((name, f"unsupported type '{candidate.suffix or 'none'}'"))
        elif len(name) > 255:
            skipped.append((name, "path longer than 255 characters (a document name's limit)"))
        else:
            files.append(LocalFile(name, candidate, hashlib.sha256(candidate.read_bytes()).hexdigest()))
    return files, skipped


def fail(message: str) -> NoReturn:
    console.print(f"[red]Error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(2)


def ingest(
    path: Annotated[Path, typer.Argument(exists=True, help="A file, or a folder read recursively.")],
    collection: Annotated[str, typer.Option(help="Target collection: its ID or its name.")],
    sync: Annotated[bool, typer.Option("--sync", help="Also remove documents whose files are gone.")] = False,
    url: Annotated[str, typer.Option(help="Lockgate base URL.")] = "http://127.0.0.1:8000",
    key: Annotated[str | None, typer.Option(help="API key (default: $LOCKGATE_API_KEY).")] = None,
    chunk_size: Annotated[
        int | None,
        typer.Option(help="Chunk size in characters (default: what the embedding model reads whole)."),
    ] = None,
) -> None:
    """Sync a file or a folder into a collection: new and changed files are ingested, unchanged ones left."""
    api_key = key or os.environ.get("LOCKGATE_API_KEY")
    if not api_key:
        fail("give --key or set LOCKGATE_API_KEY.")
    files, skipped = scan(path)
    counts, problems = asyncio.run(_run(files, collection, url.rstrip("/"), api_key, chunk_size, sync))
    summary = ", ".join(f"{counts[k]} {k}" for k in ("created", "replaced", "unchanged", "removed", "failed"))
    console.print(f"[green]{len(files)} file(s)[/green]: {summary}; {len(skipped)} skipped.")
    for name, reason in skipped:
        console.print(f"  [yellow]skipped[/yellow] {escape(name)}: {escape(reason)}", highlight=False)
    for name, reason in problems:
        console.print(f"  [red]failed[/red] {escape(name)}: {escape(reason)}", highlight=False)
    if not files and not sync:
        console.print(f"[yellow]No supported files under {path} ({SUPPORTED}).[/yellow]")
    if problems:
        raise typer.Exit(1)


def _detail(status: int, body: Any) -> str:
    if isinstance(body, dict):
        message = body.get("detail") or body.get("message") or body.get("error") or body
        if isinstance(message, dict):
            message = message.get("message", message)
        return f"{status} {message}"
    return f"{status} {body}"


async def _json(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except ValueError:
        return await response.text()


async def _is_lockgate(session: aiohttp.ClientSession, url: str) -> bool:
    """Whether `url` serves Lockgate's collection list: it never answers 404 there (a wrong key is 401),
    unlike a URL that is not the server's base (the OpenAI client's `…/v1`, another server)."""
    import aiohttp

    try:
        async with session.get(f"{url}/v1/collections", params={"limit": 1}) as response:
            return bool(response.status != 404)
    except aiohttp.ClientError:
        return False


async def _collection_id(session: aiohttp.ClientSession, url: str, collection: str) -> int:
    """The collection's id, checking key, URL and collection once (exit 2 with one clear message)."""
    import aiohttp

    try:
        if collection.isdigit():
            async with session.get(f"{url}/v1/collections/{collection}") as response:
                body = await _json(response)
                status = response.status
                found = [body] if status == 200 else []
        else:
            async with session.get(
                f"{url}/v1/collections", params={"name": collection, "limit": 100}
            ) as response:
                body = await _json(response)
                status = response.status
                found = body.get("data", []) if status == 200 and isinstance(body, dict) else []
    except aiohttp.ClientError as exc:
        fail(f"cannot reach Lockgate at {url} ({exc}).")
    if status == 401:
        fail(f"{url} refused the API key (401): check --key or LOCKGATE_API_KEY.")
    if status not in (200, 404):
        fail(f"{url} answered {_detail(status, body)} when looking up the collection.")
    if status == 404 and not await _is_lockgate(session, url):
        hint = " without /v1" if url.endswith("/v1") else ""
        fail(
            f"no Lockgate API at {url} (its /v1/collections answered 404): give the server's base URL{hint}."
        )
    if not found:
        fail(f"no collection '{collection}' that you can read at {url}.")
    if len(found) > 1:
        ids = ", ".join(str(c["id"]) for c in found)
        fail(f"several collections are named '{collection}' (ids {ids}): give the id.")
    return int(found[0]["id"])


async def _run(
    files: list[LocalFile], collection: str, url: str, key: str, chunk_size: int | None, sync: bool
) -> tuple[Counter[str], list[tuple[str, str]]]:
    import aiohttp

    counts: Counter[str] = Counter()
    problems: list[tuple[str, str]] = []
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}, timeout=timeout) as session:
        collection_id = await _collection_id(session, url, collection)
        async with session.get(f"{url}/v1/collections/{collection_id}/manifest") as response:
            body = await _json(response)
            if response.status != 200:
                fail(f"{url} answered {_detail(response.status, body)} for the collection's manifest.")
        by_name: dict[str, list[dict[str, Any]]] = {}
        for entry in body["data"]:
            by_name.setdefault(entry["name"], []).append(entry)
        pending = []
        for file in files:
            present = by_name.get(file.name, [])
            if present and all(entry["file_hash"] == file.digest for entry in present):
                counts["unchanged"] += 1
            else:
                pending.append(file)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("ingesting", total=len(pending))
            gate = asyncio.Semaphore(IN_FLIGHT)

            async def send(batch: list[LocalFile]) -> None:
                async with gate:
                    outcomes = await _upload(session, url, collection_id, batch, chunk_size)
                for name, status, reason in outcomes:
                    counts[status] += 1
                    if reason:
                        problems.append((name, reason))
                progress.update(task, advance=len(batch))

            await asyncio.gather(*(send(batch) for batch in _batches(pending)))
        if sync:
            local = {file.name for file in files}
            for name, entries in by_name.items():
                if name in local:
                    continue
                for entry in entries:
                    try:
                        async with session.delete(f"{url}/v1/documents/{entry['id']}") as response:
                            if response.status in (204, 404):  # 404: someone removed it meanwhile
                                counts["removed"] += 1
                            else:
                                problems.append(
                                    (name, f"not removed: {_detail(response.status, await _json(response))}")
                                )
                    except aiohttp.ClientError as exc:
                        problems.append((name, f"not removed: {exc}"))
    counts["failed"] = len(problems)
    return counts, problems


def _batches(files: list[LocalFile]) -> list[list[LocalFile]]:
    batches: list[list[LocalFile]] = []
    size = 0
    for file in files:
        length = file.path.stat().st_size
        if batches and len(batches[-1]) < BATCH_FILES and size + length <= BATCH_BYTES:
            batches[-1].append(file)
            size += length
        else:
            batches.append([file])
            size = length
    return batches


async def _upload(
    session: aiohttp.ClientSession,
    url: str,
    collection_id: int,
    batch: list[LocalFile],
    chunk_size: int | None,
) -> list[tuple[str, str, str]]:
    """(name, status, why it failed or '') per file of one POST .../sync."""
    import aiohttp

    form = aiohttp.FormData()
    for file in batch:
        form.add_field("files", file.path.read_bytes(), filename=file.path.name)
        form.add_field("names", file.name)
    if chunk_size is not None:
        form.add_field("chunk_size", str(chunk_size))
    try:
        async with session.post(f"{url}/v1/collections/{collection_id}/sync", data=form) as response:
            body = await _json(response)
            if response.status != 200:
                return [(file.name, "failed", _detail(response.status, body)) for file in batch]
    except (aiohttp.ClientError, TimeoutError) as exc:
        return [(file.name, "failed", f"upload failed: {exc}") for file in batch]
    outcomes = []
    for item in body["data"]:
        error = item.get("error")
        reason = f"{error['status']} {error['message']}" if error else ""
        warnings = "; ".join(item.get("warnings") or [])
        if warnings:
            console.print(
                f"  [yellow]warning[/yellow] {escape(item['name'])}: {escape(warnings)}", highlight=False
            )
        outcomes.append((item["name"], item["status"], reason))
    return outcomes
