"""Pages → chunks with LangChain's RecursiveCharacterTextSplitter and its language presets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lockgate.errors import InvalidRequest
from lockgate.rag.parsing import Page


@dataclass(frozen=True, slots=True)
class ChunkingOptions:
    chunk_size: int = 2048
    chunk_min_size: int = 0
    chunk_overlap: int = 0
    separators: list[str] = field(default_factory=list)
    is_separator_regex: bool = False
    preset_separators: str = "markdown"
    disable_chunking: bool = False


def presets() -> list[str]:
    from langchain_text_splitters import Language

    return [language.value for language in Language]


def split(pages: list[Page], options: ChunkingOptions, metadata: dict[str, Any]) -> list[tuple[str, dict]]:
    """(content, metadata) per chunk; each chunk's metadata carries its page number when known."""
    from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

    if options.chunk_overlap >= max(options.chunk_size, 1) and not options.disable_chunking:
        raise InvalidRequest("chunk_overlap: must be smaller than chunk_size.", param="chunk_overlap")
    chunks: list[tuple[str, dict]] = []
    for page in pages:
        extra = {**metadata, **({"page": page.number} if page.number is not None else {})}
        if options.disable_chunking:
            pieces = [page.text]
        else:
            if options.separators:
                splitter = RecursiveCharacterTextSplitter(
                    separators=options.separators,
                    is_separator_regex=options.is_separator_regex,
                    chunk_size=options.chunk_size,
                    chunk_overlap=options.chunk_overlap,
                )
            else:
                try:
                    language = Language(options.preset_separators)
                except ValueError as exc:
                    raise InvalidRequest(
                        f"preset_separators: unknown preset; use one of {', '.join(presets())}.",
                        param="preset_separators",
                    ) from exc
                splitter = RecursiveCharacterTextSplitter.from_language(
                    language, chunk_size=options.chunk_size, chunk_overlap=options.chunk_overlap
                )
            pieces = splitter.split_text(page.text)
        for piece in pieces:
            piece = piece.strip()
            if piece and len(piece) >= options.chunk_min_size:
                chunks.append((piece, dict(extra)))
    return chunks
