"""The database stops under a running server: every route answers 503 with Retry-After (in its dialect's
error shape) or works without the database, never a bare 500; readiness is 503; liveness stays 200; once
the database is back, requests are served again. A real PostgreSQL server of the test's own is stopped."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from lockgate.config import Settings
from lockgate.migrate import upgrade
from tests import backends
from tests.helpers import MASTER_KEY
from tests.live import live_server
from tests.ops.test_outages import _skip_or_fail


def _requests(openapi: dict) -> list[tuple[str, str]]:
    """(method, path) for every operation of /openapi.json, path parameters set to 1, and the console's."""
    found = [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, item in openapi["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]
    return [*found, ("GET", "/ui"), ("GET", "/ui/keys"), ("POST", "/ui/login")]


def test_every_route_answers_503_with_retry_after_while_postgresql_is_down(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO)
    try:
        import pgserver
        from pgserver._commands import pg_ctl
    except ImportError as exc:
        _skip_or_fail(f"pgserver not installed ({exc})")
    pgdata = backends.postgres_data_dir("pg-down")
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    url = f"postgresql+asyncpg://postgres@/postgres?host={server.get_postmaster_info().socket_dir}"
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        master_key=MASTER_KEY,
        local_models="off",
        log_format="text",
        auth_cache_ttl_seconds=0,  # every request authenticates against the database
        health_check_seconds=0.5,
    )
    upgrade(url)
    try:
        with live_server(settings) as live:
            assert live.admin.get("/health/readiness").status_code == 200
            requests = _requests(live.admin.get("/openapi.json").json())
            assert len(requests) > 100
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user, timeout=60)

            statuses: dict[tuple[str, str], int] = {}
            for method, path in requests:
                body = {} if method in ("POST", "PUT", "PATCH") else None
                if path == "/v1/auth/login":
                    body = {"email": "someone@example.org", "password": "pw"}
                response = live.admin.request(method, path, json=body)
                statuses[(method, path)] = response.status_code
                assert response.status_code != 500, f"{method} {path}: {response.text}"
                if response.status_code == 503:
                    assert response.headers.get("retry-after") == "5", f"{method} {path}"
            unavailable = [r for r, status in statuses.items() if status == 503]
            # every authenticated route needs the database for the key (the auth cache is off here)
            assert len(unavailable) > 0.8 * len(requests), statuses
            for route in [
                ("POST", "/v1/chat/completions"),  # the fast lane
                ("GET", "/v1/models"),
                ("GET", "/v1/admin/users"),
                ("GET", "/api/v1/collections"),
                ("POST", "/v1/auth/login"),
                ("GET", "/health/readiness"),
            ]:
                assert statuses[route] == 503, route
            assert statuses[("GET", "/health/liveness")] == 200

            chat = live.admin.post("/v1/chat/completions", json={"model": "x", "messages": []})
            assert chat.json()["error"]["type"] == "api_error"  # the OpenAI dialect's shape
            h2ogpte = live.admin.get("/api/v1/collections")
            assert h2ogpte.json()["code"] == 503  # the h2oGPTe dialect's shape
            assert "detail" in live.admin.get("/v1/admin/users").json()  # OpenGateLLM's
            assert "the database cannot be reached" in h2ogpte.json()["message"]
            assert not [
                r
                for r in caplog.records
                if r.name == "lockgate.errors"
                and r.levelno >= logging.ERROR
                and r.getMessage() == "unhandled error"
            ]

            server.ensure_postgres_running()
            deadline = time.monotonic() + 60
            while live.admin.get("/v1/admin/users").status_code != 200:
                assert time.monotonic() < deadline, "not served again after PostgreSQL came back"
                time.sleep(0.2)
    finally:
        server.cleanup()
