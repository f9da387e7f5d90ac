"""The private redis-server behind `lockgate serve --workers N` without redis_url (ADR 0022): the workers
share one exact count of rate limits and budget reservations, as replicas do through an operator's Redis.

It listens on a unix socket only (no TCP port), keeps nothing on disk (counters and budget reservations
are rebuilt from the database, as after a replica restart), and dies with the server: stopped when
`lockgate serve` returns (also on SIGTERM/SIGINT), and killed by the kernel if the parent dies first."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# sun_path holds 108 bytes with its terminating NUL; longer socket paths cannot be bound.
_MAX_SOCKET_PATH = 100
_PR_SET_PDEATHSIG = 1
# No TCP listener at all, nothing saved (see the module docstring), the socket for this user only.
_ARGUMENTS: tuple[str, ...] = ("--port", "0", "--unixsocketperm", "600", "--save", "", "--appendonly", "no")
_ARGUMENTS += ("--daemonize", "no", "--loglevel", "warning")


class PrivateRedisError(RuntimeError):
    """The private redis-server cannot be started; the message says what to install or why."""


def _die_with_parent(parent: int) -> Callable[[], None]:
    """Runs in the child before exec: the kernel sends SIGTERM when the parent dies (even by SIGKILL)."""

    def arm() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the line above took effect
            os._exit(1)

    return arm


def _socket_path(data_dir: Path) -> tuple[Path, Path | None]:
    """(socket path, temporary directory to remove afterwards): data_dir/redis.sock unless data_dir's path
    is too long for a unix socket, then a private directory of its own under the system's temp dir."""
    candidate = data_dir.resolve() / "redis.sock"
    if len(os.fsencode(candidate)) <= _MAX_SOCKET_PATH:
        return candidate, None
    own = Path(tempfile.mkdtemp(prefix="lockgate-redis-"))  # mode 0700
    return own / "redis.sock", own


def find_redis_server() -> str:
    """The redis-server binary to start, checked before anything else happens.

    Raises PrivateRedisError naming what to install when it or the `redis` Python package is missing."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise PrivateRedisError(
            "several workers share their rate limits and budgets through a private redis-server, which is "
            "not installed: install it (Debian/Ubuntu: apt-get install redis-server), or set redis_url, "
            "or use one worker."
        )
    try:
        import redis  # noqa: F401
    except ImportError:
        raise PrivateRedisError(
            "several workers share their rate limits and budgets through Redis, and the Python client is "
            "missing: pip install 'lockgate[redis]', or use one worker."
        ) from None
    return binary


@contextmanager
def private_redis(binary: str, data_dir: Path, timeout: float = 30.0) -> Iterator[str]:
    """Start redis-server (from find_redis_server), wait until it answers PING, yield its URL
    (unix:///…/redis.sock?db=0), stop it on leaving.

    Raises PrivateRedisError when it does not start (its last log line says why)."""
    import redis

    socket, own_dir = _socket_path(data_dir)
    socket.unlink(missing_ok=True)  # left by a server that was killed
    log = socket.with_name("redis.log")
    with log.open("w") as out:
        process = subprocess.Popen(
            [binary, *_ARGUMENTS, "--unixsocket", str(socket), "--dir", str(socket.parent)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # its own session: a terminal's Ctrl-C reaches the workers, which drain their requests while
            # this Redis still counts them; the parent stops it afterwards
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()),  # one thread here: before uvicorn
        )
    try:
        client = redis.Redis(unix_socket_path=str(socket), socket_connect_timeout=2, socket_timeout=2)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if process.poll() is not None or time.monotonic() > deadline:
                    detail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                    raise PrivateRedisError(f"the private redis-server did not start: {detail[0]}") from None
                time.sleep(0.05)
        client.close()
        yield f"unix://{socket}?db=0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        socket.unlink(missing_ok=True)
        log.unlink(missing_ok=True)
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
