"""fts5 vocabulary tables (SQLite)

Read-only views of the chunks' FTS5 index (no storage of their own): `chunks_fts_vocab_row` gives the
rows holding each term (bm25's idf), `chunks_fts_vocab_instance` each occurrence of a term (postings),
from which the SQLite store builds its per-process BM25 index. Nothing on PostgreSQL.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 14:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE chunks_fts_vocab_row USING fts5vocab(chunks_fts, row)")
        op.execute("CREATE VIRTUAL TABLE chunks_fts_vocab_instance USING fts5vocab(chunks_fts, instance)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS chunks_fts_vocab_instance")
        op.execute("DROP TABLE IF EXISTS chunks_fts_vocab_row")
