"""The jobs table: one row per piece of long work, polled by clients. It is the truth about a job (the
queue only delivers job ids): status and progress survive restarts, and a worker holds a job by a lease
it renews (`worker`, `heartbeat`), so a job whose worker died is handed to another."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lockgate.kit.clock import now_ts
from lockgate.kit.db import Base


class JobKind(StrEnum):
    """What a job does (stored as text; surfaces translate it to their own vocabulary)."""

    INGEST_UPLOAD = "ingest_upload"
    INGEST_DOCUMENT = "ingest_document"  # POST /v1/documents?async=true
    SYNC_FILES = "sync_files"  # POST /v1/collections/{id}/sync?async=true (`lockgate ingest`)
    DELETE_COLLECTIONS = "delete_collections"
    DELETE_DOCUMENTS = "delete_documents"
    REMOVE_DOCUMENTS = "remove_documents"  # from one collection
    IMPORT_DOCUMENT = "import_document"
    PROCESS_DOCUMENT = "process_document"
    DELETE_CHATS = "delete_chats"
    # Work done inside a request (synchronous POST /v1/documents and .../sync), held as a running job
    # only so that it counts under jobs_per_user; the row goes when the request ends.
    REQUEST = "request"


class JobStatus(StrEnum):
    PENDING = "pending"  # queued, no worker holds it
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})


class Job(Base):
    """Long work that a client polls: status, progress (done of total) and errors."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_heartbeat", "status", "heartbeat"),)

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
    # What the worker needs to run it (jobs/schemas.py), and the key it acts for.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(64), nullable=True)
    heartbeat: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # unix seconds
    created: Mapped[int] = mapped_column(BigInteger, default=now_ts)
    updated: Mapped[int] = mapped_column(BigInteger, default=now_ts, onupdate=now_ts)
