"""Pages → chunks with LangChain's RecursiveCharacterTextSplitter and its language presets, measured in
characters (OpenGateLLM's `chunk_size`) or in the embedding model's tokens (`rag.tokens`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from lockgate.errors import InvalidRequest
from lockgate.rag.parsing import Page, parse
from lockgate.rag.tokens import FALLBACK_CHUNK_CHARACTERS, TokenCounter


@dataclass(frozen=True, slots=True)
class ChunkingOptions:
    """`chunk_size`, `chunk_min_size` and `chunk_overlap` are in `unit`s. No `chunk_size`: chunks as
    large as the embedder reads whole (its window in its tokens), or 2,048 characters when the window
    is unknown."""

    chunk_size: int | None = None
    unit: Literal["characters", "tokens"] = "characters"
    chunk_min_size: int = 0
    chunk_overlap: int = 0
    separators: list[str] = field(default_factory=list)
    is_separator_regex: bool = False
    preset_separators: str = "markdown"
    disable_chunking: bool = False


def presets() -> list[str]:
    from langchain_text_splitters import Language

    return [language.value for language in Language]


def sized(options: ChunkingOptions, counter: TokenCounter) -> ChunkingOptions:
    """The options with a `chunk_size`: the embedder's budget in tokens when the request gave none."""
    if options.chunk_size is not None:
        return options
    if counter.budget is None:
        return replace(options, chunk_size=FALLBACK_CHUNK_CHARACTERS, unit="characters")
    return replace(options, chunk_size=counter.budget, unit="tokens")


def oversized(chunks: list[str], counter: TokenCounter) -> int:
    """How many chunks hold more tokens than the embedder reads (0 when its window is unknown)."""
    budget = counter.budget
    if budget is None or not chunks:
        return 0
    return sum(1 for tokens in counter.counts(chunks) if tokens > budget)


def _splitter(options: ChunkingOptions, length: Callable[[str], int]) -> Any:
    """LangChain's recursive splitter for these options (422 naming an unknown preset)."""
    from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

    if options.separators:
        return RecursiveCharacterTextSplitter(
            separators=options.separators,
            is_separator_regex=options.is_separator_regex,
            chunk_size=options.chunk_size,
            chunk_overlap=options.chunk_overlap,
            length_function=length,
        )
    try:
        language = Language(options.preset_separators)
    except ValueError as exc:
        raise InvalidRequest(
            f"preset_separators: unknown preset; use one of {', '.join(presets())}.",
            param="preset_separators",
        ) from exc
    return RecursiveCharacterTextSplitter.from_language(
        language, chunk_size=options.chunk_size, chunk_overlap=options.chunk_overlap, length_function=length
    )


def _memo(count: Callable[[str], int]) -> Callable[[str], int]:
    """Token counts are asked again and again for the same pieces while the splitter merges them."""
    seen: dict[str, int] = {}

    def length(text: str) -> int:
        found = seen.get(text)
        if found is None:
            found = seen[text] = count(text)
        return found

    return length


def split(
    pages: list[Page], options: ChunkingOptions, counter: TokenCounter | None = None
) -> list[tuple[str, int | None]]:
    """(content, page number or None) per chunk. Sizes in tokens are counted by `counter` (default: the
    character estimate)."""
    counter = counter or TokenCounter()
    options = sized(options, counter)
    assert options.chunk_size is not None
    length = _memo(counter.count) if options.unit == "tokens" else len
    if options.chunk_overlap >= max(options.chunk_size, 1) and not options.disable_chunking:
        raise InvalidRequest("chunk_overlap: must be smaller than chunk_size.", param="chunk_overlap")
    splitter = None if options.disable_chunking else _splitter(options, length)
    chunks: list[tuple[str, int | None]] = []
    for page in pages:
        if splitter is None or length(page.text) <= options.chunk_size:
            pieces = [page.text]  # fits whole: no splitting (the splitter counts every word otherwise)
        else:
            pieces = splitter.split_text(page.text)
        for piece in pieces:
            piece = piece.strip()
            if piece and length(piece) >= options.chunk_min_size:
                chunks.append((piece, page.number))
    return chunks


def read(
    filename: str,
    content_type: str | None,
    data: bytes,
    options: ChunkingOptions,
    counter: TokenCounter,
    split_now: bool,
) -> tuple[list[Page], list[tuple[str, int | None]] | None]:
    """A file's pages and chunks, read without OCR (it runs in a worker process, away from the OCR
    engine); the chunks are None when `split_now` is false and some page came out blank (the caller
    OCRs those pages, then splits)."""
    pages = parse(filename, content_type, data)
    if not split_now and any(not page.text for page in pages):
        return pages, None
    return pages, split(pages, options, counter)
