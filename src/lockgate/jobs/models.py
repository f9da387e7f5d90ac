"""The jobs table: one row per piece of long work, polled by clients."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lockgate.kit.clock import now_ts
from lockgate.kit.db import Base


class JobKind(StrEnum):
    """What a job does (stored as text; surfaces translate it to their own vocabulary)."""

    INGEST_UPLOAD = "ingest_upload"
    DELETE_COLLECTIONS = "delete_collections"
    DELETE_DOCUMENTS = "delete_documents"
    REMOVE_DOCUMENTS = "remove_documents"  # from one collection
    IMPORT_DOCUMENT = "import_document"
    PROCESS_DOCUMENT = "process_document"
    DELETE_CHATS = "delete_chats"


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


class Job(Base):
    """Long work that a client polls: status, progress (done of total) and errors."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    collection_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[str]] = mapped_column(JSON, default=list)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created: Mapped[int] = mapped_column(BigInteger, default=now_ts)
    updated: Mapped[int] = mapped_column(BigInteger, default=now_ts, onupdate=now_ts)
