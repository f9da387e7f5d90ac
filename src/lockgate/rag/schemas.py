"""Domain types of RAG: what a search may consider, and the frozen views services hand their callers
(never ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SearchScope:
    """Which chunks a search may consider. `collection_ids` are already limited to what the caller can
    read (`access.readable_ids`); the other filters can only narrow them further."""

    collection_ids: list[int]
    document_ids: list[int] | None = None
    metadata: dict[str, Any] | None = None

    @property
    def filtered(self) -> bool:
        return bool(self.document_ids or self.metadata)
