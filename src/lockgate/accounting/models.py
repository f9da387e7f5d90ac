"""ORM table of accounting: one row per billable request."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lockgate.kit.db import Base


class Usage(Base):
    __tablename__ = "usage"
    __table_args__ = (
        Index("ix_usage_user_created", "user_id", "created"),
        Index("ix_usage_router_created", "router_id", "created"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique per request: replaying the journal after a crash never counts a request twice.
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[int] = mapped_column(BigInteger, index=True)
    # No foreign keys: usage history outlives deleted users, keys and routers.
    user_id: Mapped[int] = mapped_column(Integer)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    key_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    router_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    model: Mapped[str | None] = mapped_column(String(255), nullable=True)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    endpoint: Mapped[str] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(8))
    status: Mapped[int] = mapped_column(Integer)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    total_tokens: Mapped[int] = mapped_column(Integer, default=0)
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    kwh_min: Mapped[float] = mapped_column(Float, default=0.0)
    kwh_max: Mapped[float] = mapped_column(Float, default=0.0)
    kgco2eq_min: Mapped[float] = mapped_column(Float, default=0.0)
    kgco2eq_max: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    ttft_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
