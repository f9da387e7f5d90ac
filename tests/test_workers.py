"""`lockgate serve --workers 2`: two processes on one port keep one exact rate-limit count (through
Redis), and the command refuses to start several workers whose limits would be per process."""

from __future__ import annotations

import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import yaml

from tests.fakes.upstreams import FakeUpstream
from tests.gateway.conftest import model, provider
from tests.helpers import MASTER_KEY, bearer
from tests.test_cli import LOCKGATE, _env, _free_port
from tests.test_cli_errors import _one_line, _run


def test_several_workers_need_redis(tmp_path: Path) -> None:
    line = _one_line(_run(["serve", "--workers", "2"], _env(tmp_path)))
    assert "--workers 2 needs redis_url" in line


def test_two_workers_keep_one_exact_count(tmp_path: Path, redis_url: str) -> None:
    with FakeUpstream("openai", "up") as upstream:
        upstream.delay = 0.05  # requests overlap, so both workers take some
        config = tmp_path / "lockgate.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "master_key": MASTER_KEY,
                    "redis_url": redis_url,
                    "local_models": "off",
                    "models": [model("chat", "text-generation", provider(upstream))],
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
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{base}/health/readiness", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
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

            with ThreadPoolExecutor(10) as pool:
                statuses = list(pool.map(ask, range(30)))
            assert sorted(statuses) == [200] * 10 + [429] * 20
            assert len(upstream.calls("/v1/chat/completions")) == 10
            # the default request-head timeout (20 s; not lowered here: on a busy machine a client's own
            # threads can take seconds between connecting and sending) closes a head never finished
            with socket.create_connection(("127.0.0.1", port), timeout=120) as slow:
                slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                assert slow.recv(1024) == b""  # closed by the worker, not by the client's timeout
        finally:
            process.terminate()
            process.wait(timeout=60)
        assert "Traceback" not in log.read_text()
