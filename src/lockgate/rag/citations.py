"""Citations a client can show: each chunk laid into a grounded prompt is numbered `[n]` and labelled with
its document's name and page, and the `[n]` markers of the answer are mapped back to those hits."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lockgate.rag.schemas import ChunkView

# "[2]", "[1, 3]", "[1][2]": numbers inside square brackets, separated by commas.
_MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


@dataclass(frozen=True, slots=True)
class Citation:
    """A `[index]` marker of an answer, resolved to the hit it numbers (`index` counts from 1)."""

    index: int
    chunk_id: int
    document_id: int
    document_name: str
    page: int | None


def source_label(n: int, chunk: ChunkView) -> str:
    """`[n] name, page p:` then the chunk's text: the form a grounded prompt lays each hit in."""
    where = chunk.document_name or f"document {chunk.document_id}"
    if chunk.page is not None:
        where += f", page {chunk.page}"
    return f"[{n}] ({where})\n{chunk.content}"


def cited(text: str, chunks: list[ChunkView]) -> list[Citation]:
    """The hits an answer cites, in the order of their first `[n]`; numbers no hit carries are ignored."""
    seen: list[int] = []
    for match in _MARKER.finditer(text):
        for part in match.group(1).split(","):
            n = int(part)
            if 1 <= n <= len(chunks) and n not in seen:
                seen.append(n)
    return [
        # chunk_id is the chunk's number within its document, as in `search_results` and the chunk routes
        Citation(
            n,
            chunks[n - 1].position,
            chunks[n - 1].document_id,
            chunks[n - 1].document_name,
            chunks[n - 1].page,
        )
        for n in seen
    ]
