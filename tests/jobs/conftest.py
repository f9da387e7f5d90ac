"""Jobs across real processes: a `Deployment` of `lockgate serve` and `lockgate worker` processes on
127.0.0.1 sharing one database (SQLite or PostgreSQL), one queue and one fake embedding upstream."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from tests import backends
from tests.fakes.upstreams import FakeUpstream
from tests.gateway.conftest import model, provider
from tests.helpers import MASTER_KEY
from tests.test_cli import LOCKGATE, _env, _free_port

WAIT_SECONDS = 240.0  # generous: two cores shared with other work; never a timing assert
EMBEDDINGS = "/v1/embeddings"


def with_embedder(settings, embedder: FakeUpstream, job_workers: int):
    """The app's settings with `embedder` as the RAG embedding model and `job_workers` in-app workers."""
    return type(settings).model_validate(
        {
            **settings.model_dump(),
            "rag_embedding_model": "embed",
            "models": [model("embed", "text-embeddings-inference", provider(embedder))],
            "job_workers": job_workers,
        }
    )


@pytest.fixture(scope="module")
def embedder() -> Iterator[FakeUpstream]:
    """A fake embedding upstream per test module (in-process tests; `Deployment` has its own)."""
    with FakeUpstream("openai", "up-embed", embedding_dim=8) as fake:
        yield fake


@dataclass
class Deployment:
    """One database, one queue, one embedding upstream; servers and workers started on demand."""

    directory: Path
    config: Path
    embedder: FakeUpstream
    processes: list[subprocess.Popen] = field(default_factory=list)

    def _start(self, args: list[str], name: str) -> subprocess.Popen:
        log = self.directory / f"{name}-{len(self.processes)}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [LOCKGATE, *args, "--config", str(self.config)],
                env=_env(self.directory / "data"),
                stdout=out,
                stderr=out,
            )
        process.log = log  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    def serve(self, job_workers: int) -> str:
        """A `lockgate serve` running `job_workers` jobs at once; its base URL once ready."""
        port = _free_port()
        process = self._start(["serve", "--port", str(port)], "serve")
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                if httpx.get(f"{base}/health/readiness", timeout=2).status_code == 200:
                    return base
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.log.read_text()  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, process.log.read_text()  # type: ignore[attr-defined]
            time.sleep(0.3)

    def worker(self) -> subprocess.Popen:
        return self._start(["worker"], "worker")

    def set_job_workers(self, count: int) -> None:
        settings = yaml.safe_load(self.config.read_text())
        settings["job_workers"] = count
        self.config.write_text(yaml.safe_dump(settings))

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request, tmp_path, sqlite_template, postgres) -> Iterator[Deployment]:
    if request.param == "sqlite":
        url = backends.fresh_sqlite(sqlite_template, tmp_path)
    else:
        found, reason = postgres
        if found is None:
            pytest.skip(reason)
        url = backends.fresh_postgres_sync(*found)
    with FakeUpstream("openai", "up-embed", embedding_dim=8) as embedder:
        config = tmp_path / "lockgate.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "master_key": MASTER_KEY,
                    "database_url": url,
                    "local_models": "off",
                    "log_format": "text",
                    "rag_embedding_model": "embed",
                    "models": [model("embed", "text-embeddings-inference", provider(embedder))],
                    "provider_allowed_networks": ["127.0.0.0/8"],
                    "job_lease_seconds": 3,
                    "job_workers": 1,
                }
            )
        )
        found = Deployment(tmp_path, config, embedder)
        try:
            yield found
        finally:
            embedder.hold.clear()
            found.stop_all()
    for process in found.processes:
        assert "Traceback" not in process.log.read_text(), process.log.read_text()  # type: ignore[attr-defined]
