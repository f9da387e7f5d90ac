"""Following sync jobs on a running Lockgate (GET /v1/jobs/{id}) until they finish, tallying what each
file became; and `lockgate follow JOB_ID...`, for jobs that `lockgate ingest` left running when it was
interrupted (they go on in the server)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from lockgate.cli.common import console
from lockgate.cli.remote import api_key_or_exit, detail, fail, json_body

if TYPE_CHECKING:
    import aiohttp

POLL_SECONDS = 0.5
# How long the server may stay unreachable (a restart) before the CLI stops following; jobs go on.
LOST_SECONDS = 120.0
FINAL = ("completed", "failed", "canceled")
OUTCOMES = ("created", "replaced", "unchanged", "removed", "failed")


def progress_bar() -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    # Drawn only on a terminal: piped into a log (cron, CI) it would leave blank lines.
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)


@dataclass(slots=True)
class Tally:
    """What became of each file: counts per outcome, and the failures with their reasons."""

    counts: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[str, str]] = field(default_factory=list)
    failed_files: int = 0  # a problem may stand for several files (someone else's job: names unknown)

    def failed(self, name: str, reason: str, files: int = 1) -> None:
        self.problems.append((name, reason))
        self.failed_files += files

    @property
    def files(self) -> int:
        """Files accounted for: each outcome counted, and every file a problem stands for."""
        return self.counts.total() + self.failed_files

    def summary(self) -> str:
        counts = self.counts + Counter(failed=self.failed_files)
        return ", ".join(f"{counts[k]} {k}" for k in OUTCOMES)


@dataclass(slots=True)
class Submitted:
    """A sync job: its files' names when this CLI sent them (None when following someone's job)."""

    job_id: str
    total: int
    names: list[str] | None = None
    done: int = 0


class ServerLost(Exception):
    """The server stayed unreachable for LOST_SECONDS while jobs were followed."""


class Follower:
    """Polls the open jobs; each finished one is tallied once."""

    def __init__(self, session: aiohttp.ClientSession, url: str, tally: Tally):
        self._session = session
        self._url = url
        self._tally = tally
        self.open: dict[str, Submitted] = {}
        self.finished_files = 0  # files of finished jobs (their `done` no longer moves)
        self._lost_since: float | None = None

    def add(self, job: Submitted) -> None:
        self.open[job.job_id] = job

    @property
    def files_done(self) -> int:
        return self.finished_files + sum(job.done for job in self.open.values())

    async def poll(self) -> None:
        import aiohttp

        for job_id, job in list(self.open.items()):
            try:
                async with self._session.get(f"{self._url}/v1/jobs/{job_id}") as response:
                    body, status = await json_body(response), response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                self._unreachable(str(exc))
                return
            if (
                status == 429 or status >= 500
            ):  # a restart behind a proxy, a database outage: not the job's end
                self._unreachable(detail(status, body))
                return
            self._lost_since = None
            if status != 200 or not isinstance(body, dict):
                self._close(job, f"its job {job_id} could not be read: {detail(status, body)}")
                continue
            job.done = int(body.get("done", 0))
            if body.get("status") in FINAL:
                self._finish(job, body)

    def _unreachable(self, reason: str) -> None:
        """The server cannot answer for now; ServerLost once that has lasted LOST_SECONDS."""
        now = time.monotonic()
        self._lost_since = self._lost_since or now
        if now - self._lost_since > LOST_SECONDS:
            raise ServerLost(f"{self._url} unreachable for {LOST_SECONDS:g} s ({reason})")

    def _finish(self, job: Submitted, body: dict[str, Any]) -> None:
        files: list[dict[str, Any]] = body.get("files") or []
        per_file = set()
        for item in files:
            name = str(item["name"])
            for warning in item.get("warnings") or []:
                console.print(
                    f"  [yellow]warning[/yellow] {escape(name)}: {escape(warning)}", highlight=False
                )
            if item.get("error"):
                self._tally.failed(name, str(item["error"]))
                per_file.add(f"{name}: {item['error']}")
            else:
                self._tally.counts[str(item["status"])] += 1
        if len(files) < job.total:  # the job stopped before these files
            why = "; ".join(e for e in body.get("errors") or [] if e not in per_file)
            self._close(
                job,
                f"not synced: its job {job.job_id} was {body.get('status')}" + (f": {why}" if why else ""),
                skip=len(files),
            )
            return
        self.finished_files += job.total
        del self.open[job.job_id]

    def _close(self, job: Submitted, reason: str, skip: int = 0) -> None:
        """Every file of `job` from position `skip` on failed for `reason`."""
        names = (job.names or [])[skip:]
        for name in names:
            self._tally.failed(name, reason)
        if job.names is None:  # someone else's submission: the count alone is known
            self._tally.failed(
                f"{job.total - skip} file(s) of job {job.job_id}", reason, files=job.total - skip
            )
        self.finished_files += job.total
        self.open.pop(job.job_id, None)


async def follow_all(follower: Follower, progress: Progress, task: Any) -> None:
    while follower.open:
        await follower.poll()
        progress.update(task, completed=follower.files_done)
        if follower.open:
            await asyncio.sleep(POLL_SECONDS)


def interrupted(url: str, job_ids: list[str], unsent: int) -> None:
    """Say what goes on in the server after Ctrl-C, and how to follow it."""
    if job_ids:
        console.print(
            f"[yellow]Interrupted.[/yellow] {len(job_ids)} job(s) go on in the server; follow them with:\n"
            f"  lockgate follow --url {url} {' '.join(job_ids)}",
            highlight=False,
        )
    else:
        console.print("[yellow]Interrupted[/yellow] before any job was queued.")
    if unsent:
        console.print(f"{unsent} file(s) were not sent: run the same command again to sync them.")


def report(tally: Tally, files: int, skipped: list[tuple[str, str]]) -> None:
    console.print(f"[green]{files} file(s)[/green]: {tally.summary()}; {len(skipped)} skipped.")
    for name, reason in skipped:
        console.print(f"  [yellow]skipped[/yellow] {escape(name)}: {escape(reason)}", highlight=False)
    for name, reason in tally.problems:
        console.print(f"  [red]failed[/red] {escape(name)}: {escape(reason)}", highlight=False)


def follow(
    job_ids: Annotated[list[str], typer.Argument(help="Job ids, as `lockgate ingest` printed them.")],
    url: Annotated[str, typer.Option(help="Lockgate base URL.")] = "http://127.0.0.1:8000",
    key: Annotated[str | None, typer.Option(help="API key (default: $LOCKGATE_API_KEY).")] = None,
) -> None:
    """Follow sync jobs until they finish and report each file (exit 1 if any failed)."""
    api_key = api_key_or_exit(key)
    base = url.rstrip("/")
    tally = Tally()
    try:
        asyncio.run(_follow(base, api_key, job_ids, tally))
    except KeyboardInterrupt:
        interrupted(base, job_ids, 0)
        raise typer.Exit(130) from None
    report(tally, tally.files, [])
    if tally.problems:
        raise typer.Exit(1)


async def _follow(url: str, key: str, job_ids: list[str], tally: Tally) -> None:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}, timeout=timeout) as session:
        follower = Follower(session, url, tally)
        for job_id in job_ids:
            try:
                async with session.get(f"{url}/v1/jobs/{job_id}") as response:
                    body, status = await json_body(response), response.status
            except aiohttp.ClientError as exc:
                fail(f"cannot reach Lockgate at {url} ({exc}).")
            if status == 401:
                fail(f"{url} refused the API key (401): check --key or LOCKGATE_API_KEY.")
            if status != 200 or not isinstance(body, dict):
                fail(f"job {job_id}: {detail(status, body)}")
            follower.add(Submitted(job_id, int(body["total"])))
        with progress_bar() as progress:
            task = progress.add_task("syncing", total=sum(job.total for job in follower.open.values()))
            try:
                await follow_all(follower, progress, task)
            except ServerLost as exc:
                fail(f"{exc}; the jobs go on in the server.")
