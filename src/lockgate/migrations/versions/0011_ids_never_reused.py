"""ids never reused: AUTOINCREMENT on every SQLite table whose ids clients see

Without AUTOINCREMENT SQLite hands out max(id) + 1, so deleting the newest collection, document, chunk
or upload gives its id to the next one: another tenant's object answers to an old id (h2oGPTe
references, cached vectors). PostgreSQL sequences never go back: nothing to do there.

SQLite cannot add AUTOINCREMENT to a table: each is rebuilt (create, copy, drop, rename) with foreign
keys off (env.py turns them off for the whole migration run, and checks them after), then its indexes
and triggers are made again. Copying the rows sets sqlite_sequence to the highest id in use.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "organizations",
    "roles",
    "providers",
    "collections",
    "documents",
    "chunks",
    "tags",
    "uploads",
    "prompt_templates",
    "chat_sessions",
    "chat_messages",
    "message_references",
)


def _rebuild(table: str, autoincrement: bool) -> None:
    bind = op.get_bind()
    create = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).scalar_one_or_none()
    if create is None or ("AUTOINCREMENT" in create) == autoincrement:
        return
    extras = [
        row[0]
        for row in bind.execute(
            sa.text(
                "SELECT sql FROM sqlite_master WHERE tbl_name = :t AND type IN ('index', 'trigger') "
                "AND sql IS NOT NULL"
            ),
            {"t": table},
        )
    ]
    if autoincrement:
        new = create.replace(
            "\n\tid INTEGER NOT NULL,", "\n\tid INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,", 1
        )
        new = re.sub(rf",\s*CONSTRAINT pk_{table} PRIMARY KEY \(id\)", "", new, count=1)
    else:
        new = create.replace(" PRIMARY KEY AUTOINCREMENT,", ",", 1)
        new = re.sub(r"\n\)\s*$", f", \n\tCONSTRAINT pk_{table} PRIMARY KEY (id)\n)", new, count=1)
    if new == create:
        raise RuntimeError(f"cannot rewrite the id column of {table}: {create}")
    new = re.sub(rf"^CREATE TABLE \"?{table}\"?", f"CREATE TABLE {table}__rebuilt", new, count=1)
    op.execute(new)
    op.execute(f"INSERT INTO {table}__rebuilt SELECT * FROM {table}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {table}__rebuilt RENAME TO {table}")
    for sql in extras:
        op.execute(sql)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        _rebuild(table, autoincrement=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        _rebuild(table, autoincrement=False)
