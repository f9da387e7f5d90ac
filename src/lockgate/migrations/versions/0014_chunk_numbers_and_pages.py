"""chunk numbers per document, page out of chunk metadata

Chunks are numbered from 0 within their document on the OpenGateLLM surface (`position`, unique per
document); `documents.next_chunk` hands out the next number so a deleted chunk's number is never reused.
A PDF chunk's page moves from its metadata (where it mixed with the user's) to `chunks.page`.
Columns are added with ALTER TABLE ADD COLUMN: a SQLite table rebuild would cascade deletes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PDF_DOCUMENTS = "SELECT id FROM documents WHERE content_type = 'application/pdf' OR lower(name) LIKE '%.pdf'"


def upgrade() -> None:
    op.add_column("documents", sa.Column("next_chunk", sa.Integer(), server_default="0", nullable=False))
    op.add_column("chunks", sa.Column("page", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE documents SET next_chunk = COALESCE("
        "(SELECT MAX(position) + 1 FROM chunks WHERE chunks.document_id = documents.id), 0)"
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "UPDATE chunks SET page = json_extract(metadata, '$.page'), "
            "metadata = json_remove(metadata, '$.page') "
            f"WHERE json_type(metadata, '$.page') = 'integer' AND document_id IN ({_PDF_DOCUMENTS})"
        )
    else:
        op.execute(
            "UPDATE chunks SET page = (metadata->>'page')::integer, "
            "metadata = (metadata::jsonb - 'page')::json "
            f"WHERE json_typeof(metadata->'page') = 'number' AND document_id IN ({_PDF_DOCUMENTS})"
        )
    op.create_index("uq_chunks_document_position", "chunks", ["document_id", "position"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_chunks_document_position", table_name="chunks")
    op.drop_column("chunks", "page")  # ALTER TABLE DROP COLUMN, no rebuild
    op.drop_column("documents", "next_chunk")
