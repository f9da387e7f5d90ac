"""`lockgate serve|worker|migrate|admin|ingest|follow|eval`."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from lockgate import __version__
from lockgate.cli import admin, evaluate, ingest, job_follow, jobs
from lockgate.cli.common import ConfigOption, console, settings_or_exit
from lockgate.cli.preflight import check_database_or_exit, fail, migrate_or_exit
from lockgate.cli.private_redis import PrivateRedisError, find_redis_server, private_redis
from lockgate.cli.server_processes import HTTP_PROTOCOL, worker_environment
from lockgate.config import Settings
from lockgate.kit.private_files import private_dir

app = typer.Typer(
    help="Lockgate: self-hosted, OpenAI-compatible generative-AI platform.", no_args_is_help=True
)
app.add_typer(admin.app, name="admin")
app.command(name="ingest")(ingest.ingest)
app.command(name="follow")(job_follow.follow)
app.command(name="eval")(evaluate.evaluate)
app.command(name="worker")(jobs.worker)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"lockgate {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Lockgate: self-hosted, OpenAI-compatible generative-AI platform."""


@app.command()
def migrate(config: ConfigOption = None) -> None:
    """Apply database migrations up to the latest revision."""
    settings = settings_or_exit(config)
    migrate_or_exit(settings.resolved_database_url)
    console.print(f"[green]Database is up to date[/green] ({_safe_url(settings.resolved_database_url)})")


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")] = None,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply migrations before serving.")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=256,
            help="Server processes sharing the port (more than one without redis_url: a private redis-server "
            "counts their limits and budgets).",
        ),
    ] = 1,
) -> None:
    """Start the server."""
    import uvicorn

    from lockgate.app import create_app
    from lockgate.ops.http_protocol import header_timeout_protocol
    from lockgate.ops.logs import configure_logging

    settings = settings_or_exit(config, host=host, port=port)
    redis_server = None
    if workers > 1 and not settings.redis_url:
        try:
            redis_server = find_redis_server()
        except PrivateRedisError as exc:
            fail(f"--workers {workers}: {exc}")
    private_dir(settings.data_dir)
    if migrate_first:
        migrate_or_exit(settings.resolved_database_url)
    else:
        check_database_or_exit(settings.resolved_database_url)
    configure_logging(settings.log_level, settings.log_format)
    url = f"http://{settings.host}:{settings.port}"
    console.print(
        f"[bold green]Lockgate[/bold green] serving on [link={url}]{url}[/link]  (API docs: {url}/docs)"
    )
    console.print(
        "Admin key: the master key ($LOCKGATE_MASTER_KEY, or the one printed below on first start). "
        "Lost it? `lockgate admin reset-master-key`."
    )
    options: dict[str, Any] = {
        "log_config": None,
        "access_log": False,
        "proxy_headers": True,
        "timeout_keep_alive": int(settings.client_keepalive_seconds),
        "ws": "wsproto",  # the h2oGPTe chat websocket (ADR 0015: not `websockets`)
    }
    if workers == 1:
        uvicorn.run(
            create_app(settings, freeze_startup_heap=True),
            host=settings.host,
            port=settings.port,
            http=header_timeout_protocol(settings.client_header_timeout_seconds),
            **options,
        )
        return
    with ExitStack() as stack:
        # Limits and budgets counted in each process would let every worker allow the full limit: without
        # an operator's Redis, the server runs its own for its workers (ADR 0022).
        private_redis_url = None
        if redis_server is not None:
            try:
                private_redis_url = stack.enter_context(private_redis(redis_server, settings.data_dir))
            except PrivateRedisError as exc:
                fail(f"--workers {workers}: {exc}")
        _serve_workers(config, settings, workers, private_redis_url, options)


def _serve_workers(
    config: Path | None,
    settings: Settings,
    workers: int,
    private_redis_url: str | None,
    options: dict[str, Any],
) -> None:
    import uvicorn

    # Each worker process builds its own app from the same settings (the config file and the CLI flags
    # travel through the environment); migrations ran once, here, before any worker starts.
    os.environ.update(worker_environment(config, settings, workers, private_redis_url))
    # Prometheus counters summed over the workers (ops/metrics.py): a fresh directory per server, so
    # that an earlier run's counts never come back (an operator's own PROMETHEUS_MULTIPROC_DIR is kept).
    own_metrics_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own_metrics_dir = tempfile.mkdtemp(prefix="lockgate-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_metrics_dir
    try:
        uvicorn.run(
            "lockgate.cli.server_processes:build_app",
            factory=True,
            workers=workers,
            http=HTTP_PROTOCOL,  # the request-head timeout, built in each worker
            host=settings.host,
            port=settings.port,
            **options,
        )
    finally:
        if own_metrics_dir is not None:
            shutil.rmtree(own_metrics_dir, ignore_errors=True)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    app()
