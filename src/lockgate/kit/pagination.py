"""Offset/limit/order parameters shared by every list endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OrderDirection = Literal["asc", "desc"]


@dataclass(frozen=True, slots=True)
class Page:
    offset: int = 0
    limit: int = 10
    order_by: str = "id"
    order_direction: OrderDirection = "asc"
