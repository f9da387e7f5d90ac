"""Wire shapes of the h2oGPTe library routes (collections, documents, tags, uploads): request bodies,
paging, and domain objects → the JSON the official client validates."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from lockgate.api.deps import State
from lockgate.api.h2ogpte.common import from_public_id, timestamp, to_public_id
from lockgate.errors import InvalidRequest
from lockgate.kit.pagination import MAX_OFFSET, OrderDirection, Page
from lockgate.rag.library import Library
from lockgate.rag.schemas import CollectionInfo, DocumentInfo, TagView
from lockgate.rag.uploads import Uploads

RagType = Literal["auto", "llm_only", "rag", "hyde1", "hyde2", "rag+", "all_data"]
SETTINGS_FIELDS = (
    "max_tokens_per_chunk",
    "chunk_overlap_tokens",
    "gen_doc_summaries",
    "gen_doc_questions",
    "audio_input_language",
    "ocr_model",
    "tesseract_lang",
    "keep_tables_as_one_chunk",
    "chunk_by_page",
    "handwriting_check",
    "ingest_mode",
    "follow_links",
    "max_depth",
    "max_documents",
    "root_dir",
    "copy_document",
    "guardrails_settings",
    "expiry_timezone",
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CollectionSettingsIn(_Body):
    max_tokens_per_chunk: int | None = Field(default=None, ge=1, le=100_000)
    chunk_overlap_tokens: int | None = Field(default=None, ge=0, le=100_000)
    gen_doc_summaries: bool | None = None
    gen_doc_questions: bool | None = None
    audio_input_language: str | None = None
    ocr_model: str | None = None
    tesseract_lang: str | None = None
    keep_tables_as_one_chunk: bool | None = None
    chunk_by_page: bool | None = None
    handwriting_check: bool | None = None
    ingest_mode: Literal["standard", "lite", "agent_only"] | None = None
    follow_links: bool | None = None
    max_depth: int | None = None
    max_documents: int | None = None
    root_dir: str | None = None
    copy_document: bool | None = None
    guardrails_settings: dict[str, Any] | None = None
    expiry_timezone: str | None = None


class CollectionCreate(_Body):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field(max_length=10_000)
    embedding_model: str | None = None
    collection_settings: CollectionSettingsIn | None = None


class CollectionUpdate(_Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    rag_type: RagType | None = None


class DocumentUpdate(_Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    uri: str | None = None


class TagCreate(_Body):
    name: str = Field(min_length=1, max_length=255)


class TagUpdate(_Body):
    description: str | None = None
    format: str | None = Field(default=None, max_length=255)


class ShareRequest(_Body):
    permissions: list[str] | None = None


def library(state: State) -> Library:
    return state.library


def uploads(state: State) -> Uploads:
    return state.uploads


LibraryDep = Annotated[Library, Depends(library)]
UploadsDep = Annotated[Uploads, Depends(uploads)]


def paging(
    offset: int | None,
    limit: int | None,
    sort_column: str | None,
    ascending: bool | None,
    columns: dict[str, str],
) -> Page:
    """h2oGPTe's offset/limit/sort_column/ascending as a Page (newest first unless asked otherwise)."""
    if offset is not None and offset < 0:
        raise InvalidRequest("offset: must be 0 or more.", param="offset")
    if limit is not None and not 0 < limit <= 10_000:
        raise InvalidRequest("limit: must be between 1 and 10000.", param="limit")
    column = columns.get(sort_column or "updated_at")
    if column is None:
        raise InvalidRequest(f"sort_column: one of {', '.join(columns)}.", param="sort_column")
    direction: OrderDirection = "asc" if ascending else "desc"
    return Page(offset=offset or 0, limit=limit or 1000, order_by=column, order_direction=direction)


Offset = Annotated[int | None, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int | None, Query(ge=1, le=10_000)]


def collection_out(info: CollectionInfo) -> dict[str, Any]:
    c = info.collection
    settings = c.settings or {}
    return {
        "id": to_public_id("collection", c.id),
        "name": c.name,
        "description": c.description or "",
        "embedding_model": info.embedding_model,
        "document_count": info.document_count,
        "document_size": info.document_size,
        "created_at": timestamp(c.created),
        "updated_at": timestamp(c.updated),
        "user_count": 1 + info.share_count,
        "is_public": c.visibility == "public",
        "username": info.owner,
        "sessions_count": info.sessions,
        "status": "ready",
        "prompt_template_id": (
            to_public_id("template", c.prompt_template_id) if c.prompt_template_id else None
        ),
        "rag_type": settings.get("rag_type"),
        "metadata_dict": {},
    }


def settings_out(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k in SETTINGS_FIELDS}


def document_out(info: DocumentInfo) -> dict[str, Any]:
    d = info.document
    extension = os.path.splitext(d.name)[1].lstrip(".").lower()
    return {
        "id": to_public_id("document", info.public_id),
        "name": d.name,
        "username": info.owner,
        "type": extension or (d.content_type or "unknown"),
        "size": d.size or 0,
        "page_count": d.pages or 0,
        "status": "completed",
        "original_type": d.content_type,
        "created_at": timestamp(d.created),
        "updated_at": timestamp(d.updated),
        "uri": d.metadata.get("uri"),
        "summary": d.summary,
        "metadata_dict": dict(d.metadata),
    }


def tag_out(tag: TagView) -> dict[str, Any]:
    return {
        "id": to_public_id("tag", tag.id),
        "name": tag.name,
        "description": tag.description,
        "format": tag.format,
    }


def collection_id(public: str) -> int:
    return from_public_id("collection", public)


def document_id(public: str) -> int:
    return from_public_id("document", public)
