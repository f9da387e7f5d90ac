"""Offset/limit/order parameters shared by every list endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy import Select

S = TypeVar("S", bound="Select[*tuple[Any, ...]]")

OrderDirection = Literal["asc", "desc"]

# The largest offset a list accepts. Databases hold offsets as 64-bit integers (an int beyond that is a
# driver error, not a 4xx); no list is anywhere near this long.
MAX_OFFSET = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Page:
    offset: int = 0
    limit: int = 10
    order_by: str = "id"
    order_direction: OrderDirection = "asc"


def paginate(stmt: S, model: Any, page: Page) -> S:
    """Order by the requested column (id breaks ties, so pages never overlap), then offset/limit."""
    column = getattr(model, page.order_by)
    ordering = column.desc() if page.order_direction == "desc" else column.asc()
    return stmt.order_by(ordering, model.id.asc()).offset(page.offset).limit(page.limit)
