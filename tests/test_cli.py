"""The `lockgate` command as a user runs it: a real server process on 127.0.0.1."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

LOCKGATE = str(Path(sys.executable).parent / "lockgate")
KEY_LINE = re.compile(r"master key \(shown once, store it now\): (sk-\S+)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKGATE_")}
    return {**env, "LOCKGATE_DATA_DIR": str(data_dir), **extra}


@contextmanager
def running_server(data_dir: Path, **extra_env: str) -> Iterator[tuple[str, list[str]]]:
    port = _free_port()
    log = data_dir / f"serve-{port}.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [LOCKGATE, "serve", "--port", str(port)], env=_env(data_dir, **extra_env), stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # generous: the machine may be busy
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "server did not start:\n" + log.read_text()
            time.sleep(0.2)
        yield base, log.read_text().splitlines()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_first_start_prints_a_master_key_once_and_keeps_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_server(data) as (base, output):
        keys = [m.group(1) for line in output if (m := KEY_LINE.search(line))]
        assert len(keys) == 1, output
        master = keys[0]
        assert httpx.get(f"{base}/docs").status_code == 200
        me = httpx.get(f"{base}/v1/me/info", headers={"Authorization": f"Bearer {master}"})
        assert me.status_code == 200 and "admin" in me.json()["permissions"]
    assert (data / "lockgate.db").exists()
    raw = (data / "lockgate.db").read_bytes()
    assert master.encode() not in raw
    with running_server(data) as (base, output):
        assert not any(KEY_LINE.search(line) for line in output)
        me = httpx.get(f"{base}/v1/me/info", headers={"Authorization": f"Bearer {master}"})
        assert me.status_code == 200


def test_master_key_from_environment(tmp_path: Path) -> None:
    key = "my-own-master-key-long-enough"
    with running_server(tmp_path / "d", LOCKGATE_MASTER_KEY=key) as (base, output):
        assert not any(KEY_LINE.search(line) for line in output)
        assert httpx.get(f"{base}/v1/me/info", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert (
            httpx.get(f"{base}/v1/me/info", headers={"Authorization": "Bearer sk-guess"}).status_code == 401
        )


def test_admin_commands_create_a_user_and_a_key_that_work(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data, LOCKGATE_MASTER_KEY="cli-test-master-key-123456")
    migrate = subprocess.run([LOCKGATE, "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stderr
    user = subprocess.run(
        [
            LOCKGATE,
            "admin",
            "create-user",
            "--email",
            "ops@example.org",
            "--password",
            "s3cret-pass",
            "--role",
            "user",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert user.returncode == 0, user.stderr
    key = subprocess.run(
        [LOCKGATE, "admin", "create-key", "--email", "ops@example.org"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert key.returncode == 0, key.stderr
    api_key = key.stdout.strip()
    duplicate = subprocess.run(
        [LOCKGATE, "admin", "create-user", "--email", "ops@example.org", "--password", "x"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert duplicate.returncode == 1 and "409" in duplicate.stderr
    with running_server(data, LOCKGATE_MASTER_KEY="cli-test-master-key-123456") as (base, _):
        me = httpx.get(f"{base}/v1/me/info", headers={"Authorization": f"Bearer {api_key}"})
        assert me.status_code == 200
        assert me.json()["email"] == "ops@example.org"
        assert me.json()["permissions"] == []
        login = httpx.post(
            f"{base}/v1/auth/login", json={"email": "ops@example.org", "password": "s3cret-pass"}
        )
        assert login.status_code == 200


def test_bad_configuration_exits_with_a_clear_message(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("port: 99999\n")
    result = subprocess.run(
        [LOCKGATE, "serve", "--config", str(config)], env=_env(tmp_path), capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "port" in result.stderr


def test_cli_refuses_an_unknown_permission(tmp_path: Path) -> None:
    env = _env(tmp_path / "d", LOCKGATE_MASTER_KEY="cli-test-master-key-123456")
    result = subprocess.run(
        [LOCKGATE, "admin", "create-role", "--name", "odd", "--permission", "nonsense"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "nonsense" in result.stderr
