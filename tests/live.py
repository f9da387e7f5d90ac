"""A real Lockgate server on 127.0.0.1, in a thread, for contract tests with official clients."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import openai
import uvicorn

from lockgate.app import create_app
from lockgate.config import Settings
from tests.helpers import MASTER_KEY, bearer

# Generous on purpose: the suite must pass on a machine kept busy by other work (2 cores shared), where a
# local model's answer can take far longer than on an idle one. Tests never assert durations.
CLIENT_TIMEOUT = 300.0
STARTUP_SECONDS = 120.0


@dataclass
class Live:
    url: str
    admin: httpx.Client  # authenticated with the master key
    database_url: str = ""

    def openai(self, key: str = MASTER_KEY, **kwargs) -> openai.OpenAI:
        kwargs.setdefault("timeout", CLIENT_TIMEOUT)
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, **kwargs)

    def anthropic(self, key: str = MASTER_KEY, **kwargs) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.url, api_key=key, max_retries=0, **kwargs)


@contextmanager
def live_server(settings: Settings) -> Iterator[Live]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings),
        loop="asyncio",
        http="h11",
        ws="wsproto",
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("Lockgate did not start (see the log above)")
        time.sleep(0.01)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, headers=bearer(MASTER_KEY), timeout=CLIENT_TIMEOUT) as admin:
        try:
            yield Live(base, admin, settings.resolved_database_url)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            sock.close()


@contextmanager
def local_models_server(
    backend: str, directory, sqlite_template, postgres, needs: tuple[str, ...] = (), **settings: Any
) -> Iterator[Live]:
    """A live Lockgate with the real local models on a fresh SQLite or PostgreSQL database. Skips (fails
    on CI) when the local models or the extra modules in `needs` are not installed."""
    import importlib.util
    import os

    import pytest

    from tests import backends
    from tests.inference.conftest import REQUIRED

    missing = [m for m in (*REQUIRED, *needs) if importlib.util.find_spec(m) is None]
    if missing:
        message = f"not installed ({', '.join(missing)}): pip install -e '.[local,test]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if backend == "sqlite":
        url = backends.fresh_sqlite(sqlite_template, directory)
    else:
        found, reason = postgres
        if found is None:
            pytest.skip(reason)
        url = backends.fresh_postgres_sync(*found)
    # The fake upstreams these tests register through the admin API listen on loopback, which the SSRF
    # guard refuses by default: allowed here explicitly, as an operator would.
    settings.setdefault("provider_allowed_networks", ["127.0.0.0/8"])
    config = Settings(
        data_dir=directory,
        database_url=url,
        master_key=MASTER_KEY,
        log_format="text",
        local_models="on",
        **settings,
    )
    with live_server(config) as live:
        yield live
