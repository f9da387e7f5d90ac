"""`lockgate worker`: a pool that runs queued jobs (ingestion, h2oGPTe *_job routes) without serving
HTTP, beside `lockgate serve` processes (set job_workers: 0 on those to leave all jobs to pools).
Not `lockgate serve --workers N`, which starts server processes (cli/server_processes.py)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from lockgate.cli.common import ConfigOption, console, settings_or_exit
from lockgate.cli.preflight import check_database_or_exit


def worker(
    config: ConfigOption = None,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Jobs run at once (default: job_workers, or 2 when that is 0)."),
    ] = None,
) -> None:
    """Run queued jobs until stopped (Ctrl-C / SIGTERM give the jobs in flight back to the queue)."""
    from lockgate.app import create_app
    from lockgate.ops.logs import configure_logging

    settings = settings_or_exit(config)
    slots = concurrency or settings.job_workers or 2
    settings = settings.model_copy(update={"job_workers": slots})
    check_database_or_exit(settings.resolved_database_url)  # `lockgate serve` (or migrate) migrates
    configure_logging(settings.log_level, settings.log_format)
    console.print(f"[bold green]Lockgate worker[/bold green] running up to {slots} job(s) at once")
    app = create_app(settings)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with app.router.lifespan_context(app):
            await stop.wait()

    asyncio.run(run())
