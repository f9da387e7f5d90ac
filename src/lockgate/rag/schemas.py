"""Domain types of RAG: what a search may consider, and the frozen views services hand their callers
(never ORM rows)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import PurePath
from typing import Any, NamedTuple

from lockgate.errors import AppError
from lockgate.rag.models import Chunk, Collection, Document, Tag


@dataclass(frozen=True, slots=True)
class SearchScope:
    """Which chunks a search may consider. `collection_ids` are already limited to what the caller can
    read (`access.readable_ids`); the other filters can only narrow them further. `versions`, when
    given, are those collections' cache versions read with the access check (`access.readable_versions`),
    so the stores' per-process indexes need no read of their own."""

    collection_ids: list[int]
    document_ids: list[int] | None = None
    metadata: dict[str, Any] | None = None
    versions: dict[int, tuple[int, int]] | None = None

    def __post_init__(self) -> None:
        # the stores rank what `versions` names: it must never widen the access-checked collections
        if self.versions is not None and not self.versions.keys() <= set(self.collection_ids):
            raise ValueError("SearchScope.versions names a collection outside collection_ids")

    @property
    def filtered(self) -> bool:
        return bool(self.document_ids or self.metadata)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """One search, as every surface asks it (POST /v1/search, search in chat, h2oGPTe retrieval, the
    Responses file_search tool, the console): `method` "semantic", "lexical" or "hybrid"; results
    `offset`..`offset + limit`, best first.

    `collection_ids` None or empty: every collection the caller can read; a named one the caller cannot
    read is a 404 unless `unreadable_is_missing` is False (then it is left out of scope).
    `document_ids`/`metadata_filters` narrow the scope. `score_threshold` (0..1) applies to semantic
    scores. Hybrid tuning (`fusion`, `semantic_weight`, `rff_k`: RRF when given) and `rerank_model`
    override the collection's stored settings; None leaves them. `query` empty: search in chat asks the
    chat's last user message (`with_query`)."""

    query: str = ""
    method: str = "semantic"
    collection_ids: list[int] | None = None
    document_ids: list[int] | None = None
    metadata_filters: dict[str, Any] | None = None
    limit: int = 10
    offset: int = 0
    rff_k: int | None = None
    score_threshold: float = 0.0
    fusion: str | None = None
    semantic_weight: float | None = None
    rerank_model: str | None = None
    unreadable_is_missing: bool = True

    def with_query(self, query: str) -> SearchQuery:
        return replace(self, query=query)


@dataclass(frozen=True, slots=True)
class CollectionChanges:
    """What a PATCH of a collection changes; None leaves a field as it is. `search` replaces the stored
    search settings as a whole (checked by `fusion.search_settings`, 422 naming the field)."""

    name: str | None = None
    description: str | None = None
    visibility: str | None = None
    search: dict[str, Any] | None = None
    dedup: bool | None = None


@dataclass(frozen=True, slots=True)
class NewChunk:
    """A chunk a client adds to a document by hand: its text and its metadata as sent (a positive
    integer `page` in it is also the chunk's page)."""

    content: str
    metadata: dict[str, Any] | None = None


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


class SearchHit(NamedTuple):
    """One search result: the ranking that found it (semantic, lexical, hybrid), its score (higher is
    better) and the chunk with its document's name."""

    method: str
    score: float
    chunk: ChunkView


@dataclass(frozen=True, slots=True)
class CollectionView:
    id: int
    name: str
    description: str | None
    visibility: str  # private | public
    owner_id: int
    settings: dict[str, Any]  # search defaults ("search") and h2oGPTe's ingestion and rag settings
    prompt_template_id: int | None
    created: int  # unix seconds
    updated: int

    @classmethod
    def of(cls, row: Collection) -> CollectionView:
        return cls(
            row.id,
            row.name,
            row.description,
            row.visibility,
            row.owner_id,
            dict(row.settings or {}),
            row.prompt_template_id,
            row.created,
            row.updated,
        )


@dataclass(frozen=True, slots=True)
class DocumentView:
    id: int
    collection_id: int
    name: str
    chunks: int
    origin_id: int | None  # a copy's original (h2oGPTe: one document in several collections)
    content_type: str | None
    size: int  # bytes uploaded
    pages: int
    summary: str | None
    metadata: dict[str, Any]
    created: int  # unix seconds
    updated: int

    @property
    def public_id(self) -> int:
        """The id the h2oGPTe surface shows: the original's for a copy."""
        return self.origin_id or self.id

    @classmethod
    def of(cls, row: Document) -> DocumentView:
        return cls(
            row.id,
            row.collection_id,
            row.name,
            row.chunks,
            row.origin_id,
            row.content_type,
            row.size or 0,
            row.pages or 0,
            row.summary,
            dict(row.metadata_ or {}),
            row.created,
            row.updated or row.created,
        )


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    """A collection as the h2oGPTe library summarises it."""

    collection: CollectionView
    document_count: int
    document_size: int
    share_count: int
    owner: str  # the owner's email (h2oGPTe's username)
    sessions: int
    embedding_model: str = ""


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    document: DocumentView
    owner: str  # the collection owner's email

    @property
    def public_id(self) -> int:
        return self.document.public_id


@dataclass(frozen=True, slots=True)
class TagView:
    id: int
    name: str
    description: str | None
    format: str | None

    @classmethod
    def of(cls, row: Tag) -> TagView:
        return cls(row.id, row.name, row.description, row.format)


class Outcome(StrEnum):
    """What a file of an ingestion became."""

    CREATED = "created"
    REPLACED = "replaced"
    UNCHANGED = "unchanged"
    FAILED = "failed"


# Longest document or upload name (the columns' VARCHAR(255)); names clients give are refused past it.
NAME_LENGTH = 255


def clip_name(filename: str) -> str:
    """A name taken from a filename, cut to NAME_LENGTH characters with its suffix kept: the suffix is
    how a file's type is known (`report….pdf`, not `report…` read as an unknown type)."""
    if len(filename) <= NAME_LENGTH:
        return filename
    suffix = PurePath(filename).suffix
    if not suffix or len(suffix) > NAME_LENGTH // 2:
        return filename[:NAME_LENGTH]
    return filename[: NAME_LENGTH - len(suffix)] + suffix


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file to ingest: `name` is the document's name (what sync matches), `filename` gives its type.
    A name taken from a longer filename is cut to NAME_LENGTH characters (`clip_name`)."""

    name: str
    filename: str
    content_type: str | None
    data: bytes

    def __post_init__(self) -> None:
        if len(self.name) > NAME_LENGTH:  # PostgreSQL refuses the row; SQLite would store it whole
            object.__setattr__(self, "name", clip_name(self.name))

    def digest(self) -> str:
        """sha256 of the bytes, hex (documents.file_hash)."""
        return hashlib.sha256(self.data).hexdigest()


@dataclass(slots=True)
class FileResult:
    """What became of one file: `error` says why it `failed` (its status is the HTTP one it maps to);
    `warnings` are for the client (chunks longer than the embedding model reads)."""

    name: str
    outcome: Outcome
    document_id: int | None = None
    chunks: int = 0
    error: AppError | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DocumentEntry:
    """A manifest line: a document's name and the sha256 of the file it came from (None without one)."""

    id: int
    name: str
    file_hash: str | None
    chunks: int
