"""What every h2oGPTe route shares: string ids, timestamps, the error dialect and the router prefix."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request

from lockgate.api.errors import Dialect as ErrorDialect
from lockgate.api.errors import H2ogpteError, error_responses
from lockgate.errors import NotFound

PREFIX = "/api/v1"
MAX_DB_ID = 2**31 - 1

# Each kind of object gets its own UUID namespace byte, so an id of one kind is never valid for another.
KINDS = {
    "collection": 1,
    "document": 2,
    "chat": 3,
    "message": 4,
    "template": 5,
    "tag": 6,
    "upload": 7,
}


def to_public_id(kind: str, value: int) -> str:
    """A database id as the UUID-shaped string this surface uses."""
    return str(uuid.UUID(int=(KINDS[kind] << 120) | (0x4000 << 64) | (0x8000 << 48) | value))


def from_public_id(kind: str, public: str) -> int:
    """The database id behind a public id; an id of another kind, or not a UUID, is not found."""
    try:
        number = uuid.UUID(public).int
    except (ValueError, AttributeError, TypeError):
        raise NotFound(f"{kind.capitalize()} {public} not found.") from None
    value = number & ((1 << 48) - 1)
    if number >> 120 != KINDS[kind] or to_public_id(kind, value) != str(uuid.UUID(public)):
        raise NotFound(f"{kind.capitalize()} {public} not found.")
    if value > MAX_DB_ID:  # no such row, and PostgreSQL would refuse the number (int32 columns)
        raise NotFound(f"{kind.capitalize()} {public} not found.")
    return value


def timestamp(seconds: int | float | None) -> str | None:
    """Epoch seconds as the RFC 3339 datetime the client parses."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace("+00:00", "Z")


async def h2ogpte_dialect(request: Request) -> None:
    """Errors on this surface use h2oGPTe's shape: {"code": status, "message": ...}."""
    request.state.dialect = ErrorDialect.H2OGPTE


def h2ogpte_router(tag: str) -> APIRouter:
    return APIRouter(
        prefix=PREFIX,
        tags=[f"h2oGPTe {tag}"],
        dependencies=[Depends(h2ogpte_dialect)],
        responses=error_responses(H2ogpteError),
    )
