"""provider origin: declared in the config file or added through the API

The SSRF guard exempted the config file's providers by their missing owner; config providers now belong
to the master user (as in OpenGateLLM), so their origin is recorded instead. Existing config providers
are the ownerless providers of config routers.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ALTER TABLE ADD COLUMN, no batch rebuild: a SQLite table rebuild would cascade deletes
    op.add_column(
        "providers", sa.Column("from_config", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.execute(
        "UPDATE providers SET from_config = TRUE WHERE user_id IS NULL "
        "AND router_id IN (SELECT id FROM routers WHERE from_config)"
    )


def downgrade() -> None:
    op.drop_column("providers", "from_config")
