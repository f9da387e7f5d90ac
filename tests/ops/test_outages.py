"""Readiness follows the real database and Redis: stopped → 503 unready (logged once), started again →
ready (logged once). Real redis-server and PostgreSQL processes are stopped and restarted."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lockgate.config import Settings
from lockgate.migrate import upgrade
from tests import backends
from tests.helpers import MASTER_KEY
from tests.live import Live, live_server
from tests.redis_server import start_redis


def _dependency_logs(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "lockgate.dependencies" and r.getMessage() == message]


def _until(live: Live, predicate: Callable[[dict, int], bool], what: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        response = live.admin.get("/health/readiness")
        if predicate(response.json(), response.status_code):
            return response.json()
        assert time.monotonic() < deadline, f"readiness never became {what}: {response.text}"
        time.sleep(0.2)


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def test_readiness_follows_redis_stopped_and_restarted(tmp_path: Path, sqlite_template, caplog) -> None:
    caplog.set_level(logging.INFO)
    process, url = start_redis(tmp_path)
    if process is None:
        _skip_or_fail(url)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    settings = Settings(
        data_dir=tmp_path,
        database_url=backends.fresh_sqlite(sqlite_template, tmp_path),
        master_key=MASTER_KEY,
        local_models="off",
        redis_url=url,
        health_check_seconds=0.5,
    )
    try:
        with live_server(settings) as live:
            ready = _until(live, lambda body, status: status == 200, "ready")
            assert ready["status"] == "ready" and ready["checks"]["redis"]["status"] == "up"

            process.terminate()
            process.wait(timeout=10)
            down = _until(live, lambda body, status: status == 503, "unready")
            assert down["status"] == "unready"
            assert down["checks"]["redis"]["status"] == "down"
            assert down["checks"]["database"]["status"] == "up"
            assert live.admin.get("/health/liveness").status_code == 200
            time.sleep(1.2)  # a few background checks while it stays down: still one log line
            assert len(_dependency_logs(caplog, "redis unreachable")) == 1

            process, _ = start_redis(tmp_path, port)
            assert process is not None
            back = _until(live, lambda body, status: status == 200, "ready again")
            assert back["checks"]["redis"]["status"] == "up"
            (recovered,) = _dependency_logs(caplog, "redis reachable again")
            assert recovered.dependency == "redis" and recovered.down_seconds > 0
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)


def test_readiness_follows_postgresql_stopped_and_restarted(tmp_path: Path, caplog) -> None:
    """A PostgreSQL server of its own (the suite's shared one must keep running)."""
    caplog.set_level(logging.INFO)
    try:
        import pgserver
        from pgserver._commands import pg_ctl
    except ImportError as exc:
        _skip_or_fail(f"pgserver not installed ({exc})")
    pgdata = backends.postgres_data_dir("pg-outage")  # an existing directory, as pgserver wants
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    url = f"postgresql+asyncpg://postgres@/postgres?host={server.get_postmaster_info().socket_dir}"
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        master_key=MASTER_KEY,
        local_models="off",
        health_check_seconds=0.5,
    )
    upgrade(url)
    try:
        with live_server(settings) as live:
            assert _until(live, lambda body, status: status == 200, "ready")["status"] == "ready"

            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user, timeout=60)
            down = _until(live, lambda body, status: status == 503, "unready")
            assert down["checks"]["database"]["status"] == "down"
            assert down["status"] == "unready"
            time.sleep(1.2)
            assert len(_dependency_logs(caplog, "database unreachable")) == 1

            server.ensure_postgres_running()
            back = _until(live, lambda body, status: status == 200, "ready again")
            assert back["checks"]["database"]["status"] == "up"
            (recovered,) = _dependency_logs(caplog, "database reachable again")
            assert recovered.dependency == "database"
            # and it serves again: a write through the reconnected pool
            created = live.admin.post("/v1/admin/roles", json={"name": "after-outage", "permissions": []})
            assert created.status_code == 201, created.text
    finally:
        server.cleanup()
