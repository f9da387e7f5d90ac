"""`lockgate serve --workers N`: what each server process runs (not to be confused with `lockgate worker`, the
job queue's worker pool: cli/jobs.py). Uvicorn starts the processes fresh, so the settings travel through
the environment (the same LOCKGATE_* variables a user sets)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from lockgate.config import ENV_PREFIX, Settings, load_settings
from lockgate.inference.engines import default_threads


def worker_environment(
    config: Path | None, settings: Settings, workers: int, private_redis_url: str | None = None
) -> dict[str, str]:
    """What a worker needs to rebuild the parent's settings: the config file and the CLI overrides.
    Unless set, the local engines' threads are divided among the workers (each loads its own models).
    `private_redis_url`: the server's own redis-server (cli/private_redis.py), which counts the limits and
    budgets of every worker; queued jobs stay in the SQLite file (that Redis keeps nothing on a restart)."""
    environment = {
        ENV_PREFIX + "HOST": settings.host,
        ENV_PREFIX + "PORT": str(settings.port),
        ENV_PREFIX + "CLIENT_HEADER_TIMEOUT_SECONDS": str(settings.client_header_timeout_seconds),
    }
    if settings.local_threads is None:
        environment[ENV_PREFIX + "LOCAL_THREADS"] = str(max(1, default_threads() // workers))
    if config is not None:
        environment[ENV_PREFIX + "CONFIG"] = str(Path(config).resolve())
    if private_redis_url is not None:
        environment[ENV_PREFIX + "REDIS_URL"] = private_redis_url
        if settings.job_queue == "auto":
            environment[ENV_PREFIX + "JOB_QUEUE"] = "sqlite"
    return environment


def build_app() -> FastAPI:
    """Uvicorn's factory, called once in each worker process."""
    from lockgate.app import create_app
    from lockgate.ops.logs import configure_logging

    settings = load_settings()  # validated by the parent already
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings, freeze_startup_heap=True)


# What `lockgate serve --workers N` gives uvicorn as `http=` (an import string: each worker imports it).
HTTP_PROTOCOL = "lockgate.cli.server_processes:HeaderTimeoutProtocol"


def __getattr__(name: str) -> Any:
    """`HeaderTimeoutProtocol`, built in the worker with the parent's request-head timeout."""
    if name == "HeaderTimeoutProtocol":
        from lockgate.ops.http_protocol import header_timeout_protocol

        return header_timeout_protocol(float(os.environ[ENV_PREFIX + "CLIENT_HEADER_TIMEOUT_SECONDS"]))
    raise AttributeError(name)
