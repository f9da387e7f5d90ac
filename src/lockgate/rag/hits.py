"""The OpenGateLLM shape of a search hit, which POST /v1/search returns as `data` and search-in-chat as
`search_results`: one place, so both surfaces show a hit the same way."""

from __future__ import annotations

from typing import Any

from lockgate.rag.schemas import ChunkView


def chunk_wire(chunk: ChunkView) -> dict[str, Any]:
    """A chunk as OpenGateLLM shows it: numbered within its document, the user's metadata as sent
    (null if none), and the PDF page beside it."""
    return {
        "object": "chunk",
        "id": chunk.position,
        "collection_id": chunk.collection_id,
        "document_id": chunk.document_id,
        "content": chunk.content,
        "metadata": chunk.metadata,
        "page": chunk.page,
        "created": chunk.created,
    }


def search_result(method: str, score: float, chunk: ChunkView) -> dict[str, Any]:
    """One hit in the shape of POST /v1/search (also `search_results` of a grounded chat answer).
    `document_name` and `page` (int or null) are extra keys beside OpenGateLLM's `method`, `score` and
    `chunk`, so a client can show the citation without another call."""
    return {
        "method": method,
        "score": score,
        "document_name": chunk.document_name,
        "page": chunk.page,
        "chunk": chunk_wire(chunk),
    }
