"""`lockgate serve --workers 2`: two processes on one port keep one exact rate-limit count and never
overspend a budget, through the operator's Redis or, without redis_url, the server's private redis-server
(gone when the server stops; the command refuses clearly when it is not installed); a killed worker loses
no usage row and /metrics counts every worker."""

from __future__ import annotations

import re
import socket
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml

from tests.fakes.upstreams import FakeUpstream
from tests.gateway.conftest import model, provider
from tests.helpers import MASTER_KEY, bearer, fresh_minute
from tests.test_cli import LOCKGATE, _env, _free_port
from tests.test_cli_errors import _one_line, _run


def test_several_workers_without_redis_server_installed_refuse(tmp_path: Path) -> None:
    venv_only = str(Path(LOCKGATE).parent)  # no /usr/bin: redis-server cannot be found
    line = _one_line(_run(["serve", "--workers", "2"], _env(tmp_path, PATH=venv_only)))
    assert "--workers 2" in line and "apt-get install redis-server" in line and "redis_url" in line


def _private_redis_servers(supervisor: int) -> list:
    import psutil

    return [
        child for child in psutil.Process(supervisor).children() if child.name().startswith("redis-server")
    ]


def test_two_workers_keep_one_exact_count(tmp_path: Path, redis_url: str) -> None:
    _exact_count_over_two_workers(tmp_path, {"redis_url": redis_url})


def test_two_workers_on_the_embedded_default_keep_one_exact_count(tmp_path: Path, redis_url: str) -> None:
    """No redis_url: the server's own redis-server (a unix socket in data_dir, no TCP port) counts for
    both workers, and it is gone, socket included, once the server stops on SIGTERM. (`redis_url` only
    skips this test where redis-server is not installed.)"""
    _exact_count_over_two_workers(tmp_path, {})


def _exact_count_over_two_workers(tmp_path: Path, shared: dict[str, str]) -> None:
    import psutil

    with FakeUpstream("openai", "up") as upstream:
        upstream.delay = 0.05  # requests overlap, so both workers take some
        config = tmp_path / "lockgate.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "master_key": MASTER_KEY,
                    **shared,
                    "local_models": "off",
                    "models": [
                        model("chat", "text-generation", provider(upstream)),
                        # 1.0 per prompt token: a one-token prompt costs exactly 1.0
                        model(
                            "priced",
                            "text-generation",
                            provider(upstream),
                            cost_prompt_tokens=1_000_000.0,
                            cost_completion_tokens=0.0,
                        ),
                    ],
                }
            )
        )
        port = _free_port()
        log = tmp_path / "serve.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [LOCKGATE, "serve", "--config", str(config), "--port", str(port), "--workers", "2"],
                env=_env(tmp_path / "data"),
                stdout=out,
                stderr=out,
            )
        base = f"http://127.0.0.1:{port}"
        private_redis: list = []
        try:
            _wait_ready(base, process, log)
            private_redis = _private_redis_servers(process.pid)
            assert len(private_redis) == (0 if shared else 1)
            for server in private_redis:  # a unix socket only: no TCP listener
                assert server.net_connections(kind="inet") == []
            admin = bearer(MASTER_KEY)
            router = httpx.get(f"{base}/v1/admin/routers", headers=admin).json()["data"][0]["id"]
            limits = [{"router": router, "type": "rpm", "value": 10}]
            role = httpx.post(f"{base}/v1/admin/roles", headers=admin, json={"name": "ten", "limits": limits})
            user = httpx.post(
                f"{base}/v1/admin/users",
                headers=admin,
                json={"email": "w@example.org", "password": "pw", "role": role.json()["id"]},
            ).json()["id"]
            key = httpx.post(f"{base}/v1/admin/tokens", headers=admin, json={"name": "k", "user": user})
            token = key.json()["token"]

            def ask(_: int) -> int:
                body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
                response = httpx.post(
                    f"{base}/v1/chat/completions", headers=bearer(token), json=body, timeout=60
                )
                return response.status_code

            fresh_minute(room=40)  # 30 requests on a busy machine
            with ThreadPoolExecutor(10) as pool:
                statuses = list(pool.map(ask, range(30)))
            assert sorted(statuses) == [200] * 10 + [429] * 20
            assert len(upstream.calls("/v1/chat/completions")) == 10
            # the default request-head timeout (20 s; not lowered here: on a busy machine a client's own
            # threads can take seconds between connecting and sending) closes a head never finished
            with socket.create_connection(("127.0.0.1", port), timeout=120) as slow:
                slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                assert slow.recv(1024) == b""  # closed by the worker, not by the client's timeout

            # a budget worth five requests, 20 concurrent requests over both workers: never overspent
            spender = httpx.post(
                f"{base}/v1/admin/users",
                headers=admin,
                json={"email": "b@example.org", "password": "pw", "role": role.json()["id"], "budget": 5.0},
            ).json()["id"]
            spender_key = httpx.post(
                f"{base}/v1/admin/tokens", headers=admin, json={"name": "b", "user": spender}
            ).json()["token"]

            def spend(_: int) -> int:
                body = {"model": "priced", "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}
                response = httpx.post(
                    f"{base}/v1/chat/completions", headers=bearer(spender_key), json=body, timeout=60
                )
                return response.status_code

            with ThreadPoolExecutor(10) as pool:
                spent = list(pool.map(spend, range(20)))
            refused = [s for s in spent if s in (400, 402)]  # 400 where OpenGateLLM answers it (#13)
            assert 1 <= spent.count(200) <= 5 and spent.count(200) + len(refused) == 20, spent
            deadline = time.monotonic() + 60  # each worker writes its usage rows and charges every second
            while True:
                user = httpx.get(f"{base}/v1/admin/users/{spender}", headers=admin).json()
                if user["budget"] == pytest.approx(5.0 - spent.count(200)):
                    break
                assert time.monotonic() < deadline, (user["budget"], spent)
                time.sleep(0.5)
        finally:
            process.terminate()
            process.wait(timeout=60)
        assert process.returncode == 0, log.read_text()
        for server in private_redis:
            assert not server.is_running() or server.status() == psutil.STATUS_ZOMBIE
        assert not (tmp_path / "data" / "redis.sock").exists()
        assert "Traceback" not in log.read_text()


def _worker_pids(supervisor: int) -> list[int]:
    """The live server processes uvicorn's supervisor runs (not its resource tracker)."""
    import psutil

    return [
        child.pid
        for child in psutil.Process(supervisor).children()
        if child.is_running()
        and child.status() != psutil.STATUS_ZOMBIE
        and "resource_tracker" not in " ".join(child.cmdline())
    ]


def _model_requests(text: str, provider_name: str) -> float:
    labels = f'model="chat",provider="{re.escape(provider_name)}",status="200"'
    pattern = rf"lockgate_model_requests_total{{{labels}}} (\S+)"
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


def test_a_killed_worker_loses_no_usage_and_metrics_count_every_worker(
    tmp_path: Path, redis_url: str
) -> None:
    """Two workers, usage flushed only at a stop (so a killed worker's rows can only come back from its
    journal); the worker that journaled the most rows is killed with SIGKILL: the server keeps answering,
    uvicorn starts a new worker which replays the dead one's journal, every scrape of /metrics (whichever
    worker answers) counts every request, the dead worker's included, and after a graceful stop every
    answered request has its usage row."""
    import psutil

    with FakeUpstream("openai", "up") as upstream:
        config = tmp_path / "lockgate.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "master_key": MASTER_KEY,
                    "redis_url": redis_url.rsplit("/", 1)[0] + "/3",  # not the other test's counters
                    "local_models": "off",
                    "usage_flush_seconds": 3600,
                    "models": [model("chat", "text-generation", provider(upstream))],
                }
            )
        )
        port = _free_port()
        data = tmp_path / "data"
        log = tmp_path / "serve.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [LOCKGATE, "serve", "--config", str(config), "--port", str(port), "--workers", "2"],
                env=_env(data),
                stdout=out,
                stderr=out,
            )
        base = f"http://127.0.0.1:{port}"
        admin = bearer(MASTER_KEY)
        body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
        answered = 0
        try:
            _wait_ready(base, process, log)
            deadline = time.monotonic() + 120
            while len(_worker_pids(process.pid)) < 2:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            journals = data / "journal"

            def ask(_: int) -> int:
                response = httpx.post(f"{base}/v1/chat/completions", headers=admin, json=body, timeout=60)
                return response.status_code

            upstream.delay = 0.1  # overlapping requests: the kernel may hand them to either worker
            with ThreadPoolExecutor(8) as pool:
                assert list(pool.map(ask, range(24))) == [200] * 24
            answered += 24
            journaled = {
                pid: sum(len(f.read_bytes().splitlines()) for f in journals.glob(f"usage-*-{pid}-*.jsonl"))
                for pid in _worker_pids(process.pid)
            }
            assert sum(journaled.values()) == answered  # nothing flushed yet: all in the journals
            victim = max(journaled, key=journaled.__getitem__)  # the one with rows (maybe all of them)
            psutil.Process(victim).kill()
            psutil.Process(victim).wait(timeout=30)

            upstream.delay = 0.0
            for _ in range(10):  # the other worker (then the new one too) keeps serving
                assert ask(0) == 200
                answered += 1
            name = f"openai:up@127.0.0.1:{upstream.port}"
            for _ in range(6):  # whichever worker answers the scrape, it counts every request
                scraped = httpx.get(f"{base}/metrics", headers=admin, timeout=60)
                assert scraped.status_code == 200
                assert _model_requests(scraped.text, name) == answered

            deadline = time.monotonic() + 120  # uvicorn replaces the dead worker, which replays its journal
            while list(journals.glob(f"usage-*-{victim}-*.jsonl")):
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            assert victim not in _worker_pids(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=60)
        with sqlite3.connect(data / "lockgate.db") as db:
            (rows,) = db.execute(
                "SELECT count(*) FROM usage WHERE model = 'chat' AND status = 200"
            ).fetchone()
        assert rows == answered
        assert len(upstream.calls("/v1/chat/completions")) == answered
        assert "Traceback" not in log.read_text()


def _wait_ready(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/health/readiness", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.3)


def test_the_private_redis_server_dies_with_a_killed_server(tmp_path: Path, redis_url: str) -> None:
    """SIGKILL leaves the server no chance to stop its redis-server: the kernel ends it (no orphan left
    holding the socket). (`redis_url` only skips this test where redis-server is not installed.)"""
    import psutil

    config = tmp_path / "lockgate.yaml"
    config.write_text(yaml.safe_dump({"master_key": MASTER_KEY, "local_models": "off"}))
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [LOCKGATE, "serve", "--config", str(config), "--port", str(port), "--workers", "2"],
            env=_env(tmp_path / "data"),
            stdout=out,
            stderr=out,
        )
    children: list = []
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process, log)
        children = psutil.Process(process.pid).children(recursive=True)
        (private_redis,) = _private_redis_servers(process.pid)
        process.kill()
        process.wait(timeout=60)
        private_redis.wait(timeout=60)  # raises TimeoutExpired if it outlives its parent
    finally:
        process.kill()
        for child in children:  # uvicorn's workers, orphaned by the SIGKILL too
            if child.is_running():
                child.kill()
