"""Wire models of the OpenGateLLM RAG routes (spec 000)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from lockgate.api.opengate.schemas import Name, Wire

Visibility = Literal["private", "public"]
DbRef = Annotated[int, Field(ge=1, le=2**31 - 1)]


class CollectionCreate(Wire):
    name: Name
    description: str | None = Field(default=None, max_length=10_000)
    visibility: Visibility = "private"


class CollectionUpdate(Wire):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=10_000)
    visibility: Visibility | None = None


class CollectionOut(Wire):
    object: Literal["collection"] = "collection"
    id: int
    name: str
    owner: str
    description: str | None
    visibility: Visibility
    created: int
    updated: int
    documents: int


class DocumentOut(Wire):
    object: Literal["document"] = "document"
    id: int
    name: str
    collection_id: int
    created: int
    chunks: int


class ChunkIn(Wire):
    content: Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
    metadata: dict[str, Any] = Field(default_factory=dict)


class ChunksIn(Wire):
    chunks: list[ChunkIn] = Field(min_length=1, max_length=64)


class ChunkOut(Wire):
    object: Literal["chunk"] = "chunk"
    id: int
    collection_id: int
    document_id: int
    content: str
    metadata: dict[str, Any]
    created: int


class ComparisonFilter(Wire):
    key: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    type: Literal["eq", "sw", "ew", "co"] = "eq"
    value: str | int | float | bool


class CompoundFilter(Wire):
    filters: list[ComparisonFilter | CompoundFilter] = Field(max_length=32)
    operator: Literal["and", "or"] = "and"


class SearchRequest(Wire):
    query: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
    collection_ids: list[DbRef] = Field(default_factory=list, max_length=100)
    document_ids: list[DbRef] = Field(default_factory=list, max_length=100)
    metadata_filters: ComparisonFilter | CompoundFilter | None = None
    limit: int = Field(default=10, gt=0, le=100)
    offset: int = Field(default=0, ge=0, le=10_000)
    method: Literal["hybrid", "semantic", "lexical"] = "semantic"
    rff_k: int = Field(default=60, ge=0, le=16384)
    score_threshold: float = Field(default=0.0, ge=0, le=1)
