"""uploads held by a job

`uploads.job_id` names the job that will ingest an upload (None: uploaded, not yet handed to a job).
An upload is deleted when its job ends, however it ends; a sweep deletes those whose job is no longer
pending or running. Added with ALTER TABLE ADD COLUMN (no SQLite table rebuild); the uploads of the
ingestion jobs are handed to them (read from their payloads): those of jobs that ended before this fix
without deleting them go at the workers' next sweep.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("uploads", sa.Column("job_id", sa.String(length=36), nullable=True))
    op.create_index("ix_uploads_job_id", "uploads", ["job_id"])
    jobs = sa.table(
        "jobs",
        sa.column("id", sa.String),
        sa.column("kind", sa.String),
        sa.column("status", sa.String),
        sa.column("payload", sa.JSON),
    )
    uploads = sa.table("uploads", sa.column("id", sa.Integer), sa.column("job_id", sa.String))
    bind = op.get_bind()
    found = bind.execute(
        sa.select(jobs.c.id, jobs.c.status, jobs.c.payload).where(
            jobs.c.kind.in_(["ingest_upload", "ingest_document", "sync_files"])
        )
    ).fetchall()
    # Live jobs last: an upload two jobs name (an h2oGPTe ingest retried) stays the live one's.
    for job_id, _, payload in sorted(found, key=lambda row: row[1] in ("pending", "running")):
        upload_ids = [int(i) for i in (payload or {}).get("upload_ids", [])]
        if upload_ids:
            bind.execute(uploads.update().where(uploads.c.id.in_(upload_ids)).values(job_id=job_id))


def downgrade() -> None:
    op.drop_index("ix_uploads_job_id", table_name="uploads")
    op.drop_column("uploads", "job_id")
