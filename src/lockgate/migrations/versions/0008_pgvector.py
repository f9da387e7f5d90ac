"""pgvector column for chunks on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 10:00:00
"""

from collections.abc import Sequence

import numpy as np
import sqlalchemy as sa
from alembic import op

from lockgate.migrate import DatabaseSetupError

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """PostgreSQL only: an untyped `vector` column (any size; one partial HNSW index per size is built
    by the chunk store when it first sees that size). SQLite keeps vectors as bytes in `embedding`."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first()
    if available is None:
        raise DatabaseSetupError(
            "Lockgate on PostgreSQL needs the pgvector extension, which this server does not have "
            "(Debian: postgresql-16-pgvector; https://github.com/pgvector/pgvector). Install it on the "
            "database server, then start again."
        )
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute("ALTER TABLE chunks ADD COLUMN vector vector")
    _copy_existing_vectors(bind)


def _copy_existing_vectors(bind: sa.Connection, batch: int = 1000) -> None:
    """Chunks written before this revision keep their float32 bytes in `embedding`; copy them over."""
    last = 0
    while True:
        rows = bind.execute(
            sa.text("SELECT id, embedding FROM chunks WHERE id > :last ORDER BY id LIMIT :batch"),
            {"last": last, "batch": batch},
        ).all()
        if not rows:
            return
        bind.execute(
            sa.text("UPDATE chunks SET vector = CAST(CAST(:vector AS text) AS vector) WHERE id = :id"),
            [
                {
                    "id": row[0],
                    "vector": "[" + ",".join(f"{x:.7g}" for x in np.frombuffer(row[1], np.float32)) + "]",
                }
                for row in rows
            ],
        )
        last = rows[-1][0]


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE chunks DROP COLUMN vector")
