"""What the RAG domain hands its surfaces about a chunk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lockgate.rag.models import Chunk


@dataclass(frozen=True, slots=True)
class ChunkView:
    id: int  # global (index, h2oGPTe surface)
    position: int  # from 0 within the document: the chunk id of the OpenGateLLM surface
    collection_id: int
    document_id: int
    content: str
    metadata: dict[str, Any] | None  # the user's, exactly as sent; None when there is none
    page: int | None  # 1-based page of a paged file (PDF), else None
    created: int
    document_name: str = ""  # filled for search hits, so a client can show a citation without a lookup


def chunk_view(chunk: Chunk, document_name: str = "") -> ChunkView:
    return ChunkView(
        chunk.id,
        chunk.position,
        chunk.collection_id,
        chunk.document_id,
        chunk.content,
        dict(chunk.metadata_) if chunk.metadata_ else None,
        chunk.page,
        chunk.created,
        document_name,
    )
