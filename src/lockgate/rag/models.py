"""ORM tables of the RAG domain. Chunks (text, metadata, vector) live in the same database as the
metadata, so a document and its chunks are written and deleted in one transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lockgate.kit.clock import now_ts
from lockgate.kit.db import IDS_NEVER_REUSED, Base


class Collection(Base):
    __tablename__ = "collections"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    visibility: Mapped[str] = mapped_column(String(16), default="private")  # private | public
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Moves on every chunk write or delete: vector caches compare it to know they are stale.
    vectors_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Ingestion and chat defaults (h2oGPTe's collection settings: chunk sizes, summaries, guardrails…).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    # Chat defaults a client stores with the collection (h2oGPTe chat_settings), and free metadata.
    chat_settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict, server_default="{}")
    prompt_template_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompt_templates.id", ondelete="SET NULL"), nullable=True
    )
    created: Mapped[int] = mapped_column(BigInteger, default=now_ts)
    updated: Mapped[int] = mapped_column(BigInteger, default=now_ts, onupdate=now_ts)


class CollectionShare(Base):
    """A user other than the owner who may read (search, chat with) a private collection."""

    __tablename__ = "collection_shares"

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("collection_id", "content_hash", name="uq_documents_collection_hash"),
        Index("ix_documents_collection_name", "collection_id", "name"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    # sha256 of the parsed content, kept only on documents ingested before duplicates were allowed (as
    # OpenGateLLM allows them): new documents leave it null, which the unique constraint never compares.
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # sha256 of the uploaded file's bytes: what a sync compares to know a file is unchanged under its name
    # (no uniqueness: the same content under two names makes two documents unless the collection dedups).
    file_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    # The number the next chunk gets (chunks are numbered from 0 within their document, never reused).
    next_chunk: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A document imported into another collection is a copy (rows and chunks) that keeps the id of the
    # document it came from, so one document can be "in" several collections (h2oGPTe).
    origin_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    content_type: Mapped[str | None] = mapped_column(String(127), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # bytes uploaded
    pages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    questions: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # sample questions
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict, server_default="{}")
    created: Mapped[int] = mapped_column(BigInteger, default=now_ts)
    updated: Mapped[int] = mapped_column(BigInteger, default=now_ts, onupdate=now_ts, server_default="0")


class Chunk(Base):
    __tablename__ = "chunks"
    __table_args__ = (
        Index("ix_chunks_collection_document", "collection_id", "document_id"),
        Index("uq_chunks_document_position", "document_id", "position", unique=True),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # global: the index and the h2oGPTe surface
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # from 0 within the document: OpenGateLLM's chunk id
    content: Mapped[str] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)  # the user's, as sent
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1-based, for PDF pages
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32, unit length
    length: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # index terms, for BM25
    created: Mapped[int] = mapped_column(BigInteger, default=now_ts)


class ChunkTerm(Base):
    """BM25 postings (term → chunk, term frequency) for databases without BM25 (PostgreSQL)."""

    __tablename__ = "chunk_terms"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    chunk_id: Mapped[int] = mapped_column(
        ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    tf: Mapped[int] = mapped_column(Integer)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_tags_owner_name"), IDS_NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    format: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created: Mapped[int] = mapped_column(BigInteger, default=now_ts)


class DocumentTag(Base):
    __tablename__ = "document_tags"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Upload(Base):
    """A file uploaded but not yet ingested: h2oGPTe's two-step `PUT /uploads` then ingest, and the
    files of an asynchronous ingestion or sync kept for its job."""

    __tablename__ = "uploads"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(127), nullable=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[int] = mapped_column(BigInteger, default=now_ts)
    # The job that will ingest it (None: uploaded, not yet handed to one). Held by that job until it
    # ends, however it ends (rag/job_uploads.py): no file outlives its job.
    job_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
