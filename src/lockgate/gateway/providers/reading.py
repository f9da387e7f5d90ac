"""Reading upstream bodies within bounds: whole answers and Server-Sent Events lines."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from lockgate.errors import UpstreamBadGateway
from lockgate.gateway.bounds import UpstreamBounds


def _too_large(provider: str, limit: int) -> UpstreamBadGateway:
    return UpstreamBadGateway(f"Provider {provider} sent more than {limit} bytes.")


def _line_too_long(provider: str, limit: int) -> UpstreamBadGateway:
    return UpstreamBadGateway(f"Provider {provider} sent a stream line longer than {limit} bytes.")


async def read_bounded(response: aiohttp.ClientResponse, limit: int, provider: str) -> bytes:
    """The whole body, refused (502) past `limit` bytes once decompressed, without holding more."""
    if response.content_length is not None and response.content_length > limit:
        raise _too_large(provider, limit)
    parts: list[bytes] = []
    size = 0
    async for piece in response.content.iter_any():
        size += len(piece)
        if size > limit:
            raise _too_large(provider, limit)
        parts.append(piece)
    return b"".join(parts)


async def sse_data(
    content: aiohttp.StreamReader, bounds: UpstreamBounds, provider: str
) -> AsyncIterator[bytes]:
    """The payload of each `data:` line, in order. Comments (`: keepalive`), `event:`/`id:` lines and
    blank lines are skipped. A line longer than `bounds.max_line_bytes`, or a stream longer than
    `bounds.max_body_bytes`, is a 502."""
    buffer = bytearray()
    size = 0  # bytes of the lines consumed so far: the cap cuts at the line that passes it, whatever
    # amount of data one read happens to bring (a fast upstream can fill the socket before the first read)
    async for piece in content.iter_any():
        buffer += piece
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            if end - start > bounds.max_line_bytes:
                raise _line_too_long(provider, bounds.max_line_bytes)
            size += end + 1 - start
            if size > bounds.max_body_bytes:
                raise _too_large(provider, bounds.max_body_bytes)
            line = bytes(buffer[start:end]).rstrip(b"\r")
            start = end + 1
            if line.startswith(b"data:"):
                yield line[5:].strip()
        del buffer[:start]
        if len(buffer) > bounds.max_line_bytes:
            raise _line_too_long(provider, bounds.max_line_bytes)
    line = bytes(buffer).rstrip(b"\r")
    if line.startswith(b"data:"):
        yield line[5:].strip()
