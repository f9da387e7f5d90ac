"""Limits at the edge, on a live server over real sockets: oversize bodies refused before they are read
(declared) or as soon as they pass the limit (chunked), with the server's memory bounded; stalled
bodies and stalled request heads cut off."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from lockgate.config import Settings
from lockgate.ops.http_protocol import header_timeout_protocol
from tests import backends
from tests.helpers import MASTER_KEY
from tests.live import Live, live_server

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def live(tmp_path_factory, sqlite_template) -> Iterator[Live]:
    directory = tmp_path_factory.mktemp("edge")
    settings = Settings(
        data_dir=directory,
        database_url=backends.fresh_sqlite(sqlite_template, directory),
        master_key=MASTER_KEY,
        log_format="text",
        local_models="off",
        max_request_body_bytes=MIB,
        max_upload_bytes=MIB,
        client_body_timeout_seconds=1,
    )
    with live_server(settings) as server:
        yield server


def _connect(live: Live) -> socket.socket:
    host, port = live.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    return sock


def _response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    return data


def _status(head: bytes) -> int:
    return int(head.split(b" ", 2)[1])


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class PeakRss:
    """The highest resident size of this process (the live server runs in it) while in the block."""

    def __enter__(self) -> PeakRss:
        self.base = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.base


FILE_PART = (
    b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
    b"Content-Type: text/plain\r\n\r\n"
)


def _send_chunked(live: Live, head: str, total: int) -> tuple[int, int]:
    """Send `total` bytes as a chunked body after `head` until the server answers: (status, bytes sent).
    A multipart body opens a file part first, so the form parser spools what follows."""
    sock = _connect(live)
    with sock:
        sock.sendall(head.encode() + b"Transfer-Encoding: chunked\r\n\r\n")
        if "multipart" in head:
            sock.sendall(f"{len(FILE_PART):x}\r\n".encode() + FILE_PART + b"\r\n")
        piece = b"x" * (256 * 1024)
        frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        sent = 0
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        return _status(_response(sock)), sent


def test_a_declared_oversize_body_is_refused_before_it_is_read(live: Live) -> None:
    for path, content_type in (
        ("/v1/chat/completions", "application/json"),
        ("/v1/auth/login", "application/json"),
        ("/v1/documents", "multipart/form-data; boundary=x"),
        ("/api/v1/uploads", "multipart/form-data; boundary=x"),
    ):
        sock = _connect(live)
        with sock:  # no key, and not one byte of the gigabyte announced
            head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
            sock.sendall(head.encode() + b"Content-Length: 1000000000\r\n\r\n")
            answer = _response(sock)
        assert _status(answer) == 413, (path, answer)


def test_a_chunked_oversize_body_is_cut_off_with_memory_bounded(live: Live) -> None:
    routes = (  # chat with a key: without one the fast lane answers 401 before reading anything
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {MASTER_KEY}\r\n",
        "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",
        "PUT /api/v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\n",
    )
    for head in routes:
        with PeakRss() as rss:
            status, sent = _send_chunked(live, head, 300 * MIB)
        assert status == 413, head
        assert sent < 300 * MIB  # the server answered long before the end
        assert rss.growth < 64 * MIB, f"{head!r}: grew {rss.growth / MIB:.0f} MiB"


def test_a_stalled_body_is_refused_with_408(live: Live) -> None:
    sock = _connect(live)
    with sock:
        head = "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        sock.sendall(head.encode() + b"Content-Length: 100\r\n\r\n" + b'{"email": ')
        answer = _response(sock)  # the server gives up after client_body_timeout_seconds
    assert _status(answer) == 408


def test_a_normal_body_still_passes(live: Live) -> None:
    response = live.admin.post("/v1/auth/login", json={"email": "nobody@example.org", "password": "x"})
    assert response.status_code in (400, 401)  # read and judged, not refused for size


def test_a_stalled_request_head_is_closed() -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, http=header_timeout_protocol(0.5), log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        fine = socket.create_connection(("127.0.0.1", port), timeout=30)
        with fine:
            fine.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _status(_response(fine)) == 200
        slow = socket.create_connection(("127.0.0.1", port), timeout=30)
        with slow:
            slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes its head
            assert slow.recv(1024) == b""  # closed by the server, not by the 30 s client timeout
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
