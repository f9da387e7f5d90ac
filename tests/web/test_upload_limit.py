"""An oversized upload to the console (or the upload APIs) is refused (413) before it is read: before
sign-in, CSRF and authentication, which FastAPI runs only after parsing the form and spooling its files
to disk (the body limits of lockgate.api.body_limit)."""

from __future__ import annotations

import httpx
import pytest

CHUNK = 64 * 1024
HEAD = (
    b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
    b"Content-Type: text/plain\r\n\r\n"
)


class Body:
    """A multipart body of `size` bytes, streamed; counts what the server pulled."""

    def __init__(self, size: int):
        self.size = size
        self.sent = 0

    async def __aiter__(self):
        yield HEAD
        while self.sent < self.size:
            self.sent += CHUNK
            yield b"a" * CHUNK
        yield b"\r\n--XX--\r\n"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/ui/collections/1/documents"), ("POST", "/v1/documents"), ("PUT", "/api/v1/uploads")],
)
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_oversized_upload_is_refused_before_it_is_read(app, method, path, declared):
    limit = app.state.lockgate.settings.max_upload_bytes
    body = Body(4 * limit)
    headers = {"content-type": "multipart/form-data; boundary=XX"}
    if declared:
        headers["content-length"] = str(len(HEAD) + body.size + 12)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://lockgate.test") as client:
        # no key, no session, no CSRF token
        refused = await client.request(method, path, content=body, headers=headers)
    assert refused.status_code == 413
    assert body.sent < 2 * limit  # stopped at the limit, not read to the end


async def test_an_upload_within_the_limit_still_reaches_the_route(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://lockgate.test") as client:
        answer = await client.post("/ui/collections/1/documents", files={"file": ("a.txt", b"hello")})
    assert answer.status_code == 403  # the console's CSRF check, as before
