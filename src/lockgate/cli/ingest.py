"""`lockgate ingest PATH --collection NAME|ID [--sync]`: keep a collection in step with a file or a folder.

Key, URL and collection are checked once up front (one clear error, exit 2). Each file is the document
named by its path under the folder: files whose bytes match the document of their name are `unchanged`
(not even uploaded: the collection's manifest lists every document's file hash); the others go up in
batches, each queued as a job (POST /v1/collections/{id}/sync?async=true) that the server's workers run
(created, or replacing the old version), and the CLI follows the jobs until done. Ctrl-C leaves the
queued jobs running and prints how to follow them. `--sync` also removes the documents whose files are
gone. Unsupported files are listed as skipped. Exit 0 when every file is ingested or unchanged, 1 when
some failed."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lockgate.cli.common import console
from lockgate.cli.job_follow import Follower, ServerLost, Submitted, Tally, interrupted, progress_bar, report
from lockgate.cli.remote import api_key_or_exit, detail, fail, json_body
from lockgate.rag.parsing import KINDS, SUPPORTED

if TYPE_CHECKING:
    import aiohttp

BATCH_FILES = 64
BATCH_BYTES = 8 * 1024 * 1024
# Jobs of this run queued and not finished at once: the server works on one while the next uploads,
# and files wait as uploads in its database only a few batches at a time.
OPEN_JOBS = 3
UPLOAD_TIMEOUT_SECONDS = 600


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


def ingest(
    path: Annotated[Path, typer.Argument(exists=True, help="A file, or a folder read recursively.")],
    collection: Annotated[str, typer.Option(help="Target collection: its ID or its name.")],
    sync: Annotated[
        bool,
        typer.Option(
            "--sync",
            help="Mirror PATH: also remove the collection's documents that have no file there "
            "(documents added by other means included).",
        ),
    ] = False,
    url: Annotated[str, typer.Option(help="Lockgate base URL.")] = "http://127.0.0.1:8000",
    key: Annotated[str | None, typer.Option(help="API key (default: $LOCKGATE_API_KEY).")] = None,
    chunk_size: Annotated[
        int | None,
        typer.Option(help="Chunk size in characters (default: what the embedding model reads whole)."),
    ] = None,
) -> None:
    """Sync a file or a folder into a collection: new and changed files are ingested, unchanged ones left."""
    api_key = api_key_or_exit(key)
    base = url.rstrip("/")
    files, skipped = scan(path)
    run = Run(Tally(), [], 0)
    try:
        asyncio.run(_run(files, collection, base, api_key, chunk_size, sync, run))
    except KeyboardInterrupt:
        interrupted(base, [job.job_id for job in run.jobs], run.unsent)
        raise typer.Exit(130) from None
    report(run.tally, len(files), skipped)
    if not files and not sync:
        console.print(f"[yellow]No supported files under {path} ({SUPPORTED}).[/yellow]")
    if run.tally.problems:
        raise typer.Exit(1)


@dataclass(slots=True)
class Run:
    """Where a run stands (read after Ctrl-C): the tally, the jobs queued, the files not sent yet."""

    tally: Tally
    jobs: list[Submitted]
    unsent: int


async def _is_lockgate(session: aiohttp.ClientSession, url: str) -> bool:
    """Whether `url` serves Lockgate's collection list: it never answers 404 there (a wrong key is 401),
    unlike a URL that is not the server's base (the OpenAI client's `…/v1`, another server)."""
    import aiohttp

    try:
        async with session.get(f"{url}/v1/collections", params={"limit": 1}) as response:
            return response.status != 404
    except aiohttp.ClientError:
        return False


async def _collection_id(session: aiohttp.ClientSession, url: str, collection: str) -> int:
    """The collection's id, checking key, URL and collection once (exit 2 with one clear message)."""
    import aiohttp

    try:
        if collection.isdigit():
            async with session.get(f"{url}/v1/collections/{collection}") as response:
                body = await json_body(response)
                status = response.status
                found = [body] if status == 200 else []
        else:
            async with session.get(
                f"{url}/v1/collections", params={"name": collection, "limit": 100}
            ) as response:
                body = await json_body(response)
                status = response.status
                found = body.get("data", []) if status == 200 and isinstance(body, dict) else []
    except aiohttp.ClientError as exc:
        fail(f"cannot reach Lockgate at {url} ({exc}).")
    if status == 401:
        fail(f"{url} refused the API key (401): check --key or LOCKGATE_API_KEY.")
    if status not in (200, 404):
        fail(f"{url} answered {detail(status, body)} when looking up the collection.")
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
    files: list[LocalFile],
    collection: str,
    url: str,
    key: str,
    chunk_size: int | None,
    sync: bool,
    run: Run,
) -> None:
    import aiohttp

    tally = run.tally
    timeout = aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}, timeout=timeout) as session:
        collection_id = await _collection_id(session, url, collection)
        async with session.get(f"{url}/v1/collections/{collection_id}/manifest") as response:
            body = await json_body(response)
            if response.status != 200:
                fail(f"{url} answered {detail(response.status, body)} for the collection's manifest.")
        by_name: dict[str, list[dict[str, Any]]] = {}
        for entry in body["data"]:
            by_name.setdefault(entry["name"], []).append(entry)
        pending = []
        for file in files:
            present = by_name.get(file.name, [])
            if present and all(entry["file_hash"] == file.digest for entry in present):
                tally.counts["unchanged"] += 1
            else:
                pending.append(file)
        if sync:
            await _remove_gone(session, url, by_name, {file.name for file in files}, tally)
        batches = _batches(pending)
        run.unsent = len(pending)
        follower = Follower(session, url, tally)
        with progress_bar() as progress:
            task = progress.add_task("syncing", total=len(pending))
            refused = 0  # files of batches the server refused outright
            try:
                while batches or follower.open:
                    while batches and len(follower.open) < OPEN_JOBS:
                        batch = batches.pop(0)
                        job = await _submit(session, url, collection_id, batch, chunk_size, tally)
                        run.unsent -= len(batch)
                        if job is None:
                            refused += len(batch)
                        else:
                            run.jobs.append(job)
                            follower.add(job)
                            progress.console.print(f"queued job {job.job_id}: {len(batch)} file(s)")
                    await follower.poll()
                    progress.update(task, completed=refused + follower.files_done)
                    if follower.open:
                        await asyncio.sleep(0.5)
            except ServerLost as exc:
                progress.stop()
                interrupted(url, [job.job_id for job in follower.open.values()], run.unsent)
                fail(f"{exc}.")


async def _remove_gone(
    session: aiohttp.ClientSession,
    url: str,
    by_name: dict[str, list[dict[str, Any]]],
    local: set[str],
    tally: Tally,
) -> None:
    """--sync: delete the documents whose files are gone."""
    import aiohttp

    for name, entries in by_name.items():
        if name in local:
            continue
        for entry in entries:
            try:
                async with session.delete(f"{url}/v1/documents/{entry['id']}") as response:
                    if response.status in (204, 404):  # 404: someone removed it meanwhile
                        tally.counts["removed"] += 1
                    else:
                        tally.failed(
                            name, f"not removed: {detail(response.status, await json_body(response))}"
                        )
            except aiohttp.ClientError as exc:
                tally.failed(name, f"not removed: {exc}")


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


async def _submit(
    session: aiohttp.ClientSession,
    url: str,
    collection_id: int,
    batch: list[LocalFile],
    chunk_size: int | None,
    tally: Tally,
) -> Submitted | None:
    """Queue one batch as a sync job; None when the server refused it (its files tallied as failed)."""
    import aiohttp

    form = aiohttp.FormData()
    for file in batch:
        form.add_field("files", file.path.read_bytes(), filename=file.path.name)
        form.add_field("names", file.name)
    if chunk_size is not None:
        form.add_field("chunk_size", str(chunk_size))
    target = f"{url}/v1/collections/{collection_id}/sync"
    try:
        async with session.post(target, params={"async": "true"}, data=form) as response:
            body = await json_body(response)
            if response.status != 202 or not isinstance(body, dict):
                reason = detail(response.status, body)
                for file in batch:
                    tally.failed(file.name, reason)
                return None
    except (aiohttp.ClientError, TimeoutError) as exc:
        for file in batch:
            tally.failed(file.name, f"upload failed: {exc}")
        return None
    return Submitted(str(body["id"]), len(batch), [file.name for file in batch])
