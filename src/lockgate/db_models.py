"""Import every domain's ORM models so Base.metadata is complete (for Alembic and tests)."""

from lockgate.accounting import models as accounting_models  # noqa: F401
from lockgate.gateway import models as gateway_models  # noqa: F401
from lockgate.identity import models as identity_models  # noqa: F401
from lockgate.kit.db import Base
from lockgate.rag import models as rag_models  # noqa: F401

metadata = Base.metadata


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Tables Alembic must not manage: SQLite's FTS5 index of chunks and its shadow tables."""
    return not (type_ == "table" and name is not None and name.startswith("chunks_fts"))
