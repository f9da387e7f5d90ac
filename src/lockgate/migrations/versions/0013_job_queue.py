"""jobs on a durable queue: payload, acting key, attempts and the worker's lease

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload", sa.JSON(), server_default="{}", nullable=False))
        batch_op.add_column(sa.Column("key_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("worker", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("heartbeat", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_jobs_status_heartbeat", ["status", "heartbeat"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_status_heartbeat")
        batch_op.drop_column("heartbeat")
        batch_op.drop_column("worker")
        batch_op.drop_column("attempts")
        batch_op.drop_column("key_id")
        batch_op.drop_column("payload")
