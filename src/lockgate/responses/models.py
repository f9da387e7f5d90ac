"""ORM table of stored responses."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lockgate.kit.db import Base


class StoredResponse(Base):
    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_user_created", "user_id", "created"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # "resp_" + 128 random bits
    # The owner, checked on every read; deleting a user deletes their responses.
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"))
    created: Mapped[int] = mapped_column(BigInteger)
    model: Mapped[str] = mapped_column(String(255))
    previous_response_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)  # the response object as returned
    input_items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # this request's input, with ids
    # The conversation up to and including this response's output, as internal chat messages (no
    # instructions: those do not carry over to a follow-up request).
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
