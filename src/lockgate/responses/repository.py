"""SQL of stored responses: every read is by id AND owner."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import delete, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.responses.models import StoredResponse


async def get(session: AsyncSession, response_id: str, user_id: int) -> StoredResponse | None:
    stmt = select(StoredResponse).where(StoredResponse.id == response_id, StoredResponse.user_id == user_id)
    return (await session.scalars(stmt)).first()


async def remove(session: AsyncSession, response_id: str, user_id: int) -> bool:
    stmt = delete(StoredResponse).where(StoredResponse.id == response_id, StoredResponse.user_id == user_id)
    return cast("CursorResult[Any]", await session.execute(stmt)).rowcount > 0
