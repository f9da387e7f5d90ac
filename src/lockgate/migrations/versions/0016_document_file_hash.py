"""document file hash and name index (sync by name)

`documents.file_hash` is the sha256 of the uploaded bytes: a sync compares it to tell an unchanged file
from a changed one under the same name. It is not unique (the same content under two names makes two
documents). Added with ALTER TABLE ADD COLUMN: a SQLite table rebuild would cascade deletes.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("documents", sa.Column("file_hash", sa.String(length=64), nullable=True))
    op.create_index("ix_documents_collection_name", "documents", ["collection_id", "name"])


def downgrade() -> None:
    op.drop_index("ix_documents_collection_name", table_name="documents")
    op.drop_column("documents", "file_hash")  # ALTER TABLE DROP COLUMN, no rebuild
