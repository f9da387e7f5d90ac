"""A real redis-server on 127.0.0.1 for the tests that need shared counters."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


def start_redis(directory: Path, port: int | None = None) -> tuple[subprocess.Popen | None, str]:
    """(process, url) or (None, reason). `port`: to start a stopped Redis again where it was."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None, "redis-server is not installed (apt-get install redis-server)"
    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            redis.Redis.from_url(url).ping()
            return process, url
        except redis.ConnectionError:
            time.sleep(0.05)
    process.kill()
    return None, "redis-server did not start"
