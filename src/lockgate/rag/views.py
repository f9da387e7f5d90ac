"""What the RAG domain hands its surfaces about a chunk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lockgate.rag.models import Chunk


@dataclass(frozen=True, slots=True)
class ChunkView:
    id: int
    collection_id: int
    document_id: int
    content: str
    metadata: dict[str, Any]
    created: int
    document_name: str = ""  # filled for search hits, so a client can show a citation without a lookup

    @property
    def page(self) -> int | None:
        """The page the chunk was cut from (1-based, set by the parser for paged files), else None."""
        page = self.metadata.get("page")
        if isinstance(page, bool):
            return None
        if isinstance(page, int):
            return page
        return int(page) if isinstance(page, str) and page.isdigit() else None


def chunk_view(chunk: Chunk, document_name: str = "") -> ChunkView:
    return ChunkView(
        chunk.id,
        chunk.collection_id,
        chunk.document_id,
        chunk.content,
        dict(chunk.metadata_ or {}),
        chunk.created,
        document_name,
    )
