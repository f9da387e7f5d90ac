"""ORM tables of chat sessions, messages, references and prompt templates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lockgate.kit.clock import now_ts
from lockgate.kit.db import IDS_NEVER_REUSED, Base


class PromptTemplate(Base):
    __tablename__ = "prompt_templates"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    lang: Mapped[str | None] = mapped_column(String(16), nullable=True)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    # Every prompt field of the spec (system_prompt, pre_prompt_query, prompt_query, prompt_reflection…).
    prompts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created: Mapped[int] = mapped_column(BigInteger, default=now_ts)
    updated: Mapped[int] = mapped_column(BigInteger, default=now_ts, onupdate=now_ts)


class PromptTemplateShare(Base):
    __tablename__ = "prompt_template_shares"

    template_id: Mapped[int] = mapped_column(
        ForeignKey("prompt_templates.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ChatSession(Base):
    __tablename__ = "chat_sessions"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    collection_id: Mapped[int | None] = mapped_column(
        ForeignKey("collections.id", ondelete="SET NULL"), nullable=True, index=True
    )
    prompt_template_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompt_templates.id", ondelete="SET NULL"), nullable=True
    )
    created: Mapped[int] = mapped_column(BigInteger, default=now_ts)
    updated: Mapped[int] = mapped_column(BigInteger, default=now_ts, onupdate=now_ts)


class ChatMessage(Base):
    """A user message (reply_to is None) or an answer (reply_to = the user message it answers)."""

    __tablename__ = "chat_messages"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"), index=True)
    reply_to: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    llm: Mapped[str | None] = mapped_column(String(255), nullable=True)
    llm_args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # message_type → content: self_reflection, usage_stats, prompt_raw, llm_only, hyde1…
    meta: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    votes: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(BigInteger, default=now_ts)


class MessageReference(Base):
    """A chunk that was in an answer's prompt. The text is kept, so a reference outlives its chunk."""

    __tablename__ = "message_references"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("chat_messages.id", ondelete="CASCADE"), index=True)
    chunk_id: Mapped[int] = mapped_column(Integer)
    document_id: Mapped[int] = mapped_column(Integer)
    collection_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    document_name: Mapped[str] = mapped_column(String(255))
    score: Mapped[float] = mapped_column(Float)
    pages: Mapped[str] = mapped_column(String(255), default="")
    content: Mapped[str] = mapped_column(Text)
