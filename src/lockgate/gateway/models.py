"""ORM tables of the gateway."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lockgate.kit.clock import now_ts
from lockgate.kit.db import IDS_NEVER_REUSED, Base


class Router(Base):
    """A model as users see it: a name, aliases, prices, and the providers that serve it."""

    __tablename__ = "routers"
    __table_args__ = {"sqlite_autoincrement": True}  # router ids are kept in usage history

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    load_balancing_strategy: Mapped[str] = mapped_column(String(32), default="shuffle")
    cost_prompt_tokens: Mapped[float] = mapped_column(Float, default=0.0)
    cost_completion_tokens: Mapped[float] = mapped_column(Float, default=0.0)
    vector_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_context_length: Mapped[int | None] = mapped_column(Integer, nullable=True)
    from_config: Mapped[bool] = mapped_column(default=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created: Mapped[int] = mapped_column(BigInteger, default=now_ts)
    updated: Mapped[int] = mapped_column(BigInteger, default=now_ts, onupdate=now_ts)

    aliases: Mapped[list[RouterAlias]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="RouterAlias.alias"
    )


class RouterAlias(Base):
    __tablename__ = "router_aliases"

    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"), index=True)


class Provider(Base):
    """One upstream deployment of a router's model. `key_encrypted` holds the API key, Fernet-encrypted."""

    __tablename__ = "providers"
    __table_args__ = (
        UniqueConstraint("router_id", "url", "model_name", name="uq_providers_router_url_model"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    key_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    timeout: Mapped[int] = mapped_column(Integer, default=300)
    model_name: Mapped[str] = mapped_column(String(255))
    model_hosting_zone: Mapped[str] = mapped_column(String(3), default="WOR")
    model_total_params: Mapped[int] = mapped_column(Integer, default=0)
    model_active_params: Mapped[int] = mapped_column(Integer, default=0)
    qos_metric: Mapped[str | None] = mapped_column(String(32), nullable=True)
    qos_limit: Mapped[float | None] = mapped_column(Float, nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    # Declared in the operator's config file (trusted, may reach private networks) rather than added
    # through the API (SSRF-guarded). Not inferred from the owner: config providers belong to the master.
    from_config: Mapped[bool] = mapped_column(default=False, server_default=false())
    created: Mapped[int] = mapped_column(BigInteger, default=now_ts)
    updated: Mapped[int] = mapped_column(BigInteger, default=now_ts, onupdate=now_ts)
