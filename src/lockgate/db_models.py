"""Import every domain's ORM models so Base.metadata is complete (for Alembic and tests)."""

from alembic.runtime.environment import NameFilterParentNames, NameFilterType

from lockgate.accounting import models as accounting_models  # noqa: F401
from lockgate.conversations import models as conversations_models  # noqa: F401
from lockgate.gateway import models as gateway_models  # noqa: F401
from lockgate.identity import models as identity_models  # noqa: F401
from lockgate.jobs import models as jobs_models  # noqa: F401
from lockgate.kit.db import Base
from lockgate.rag import models as rag_models  # noqa: F401
from lockgate.responses import models as responses_models  # noqa: F401

metadata = Base.metadata


def include_name(name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames) -> bool:
    """What Alembic must not manage: SQLite's FTS5 index of chunks and its shadow tables, and on
    PostgreSQL the pgvector column of chunks and its HNSW indexes (the chunk store owns them)."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith("chunks_fts")
    if type_ == "column":
        return not (name == "vector" and parent_names.get("table_name") == "chunks")
    if type_ == "index":
        return not name.startswith("ix_chunks_vector_hnsw_")
    return True
