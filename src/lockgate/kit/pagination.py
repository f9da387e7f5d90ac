"""Offset/limit/order parameters shared by every list endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select

OrderDirection = Literal["asc", "desc"]


@dataclass(frozen=True, slots=True)
class Page:
    offset: int = 0
    limit: int = 10
    order_by: str = "id"
    order_direction: OrderDirection = "asc"


def paginate(stmt: Select, model: Any, page: Page) -> Select:
    """Order by the requested column (id breaks ties, so pages never overlap), then offset/limit."""
    column = getattr(model, page.order_by)
    ordering = column.desc() if page.order_direction == "desc" else column.asc()
    return stmt.order_by(ordering, model.id.asc()).offset(page.offset).limit(page.limit)
