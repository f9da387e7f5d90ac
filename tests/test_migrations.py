"""The migrations build exactly the schema the ORM models describe, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lockgate.db_models import include_name, metadata
from lockgate.kit.db import Database, is_sqlite


def fk_signature(constraint) -> tuple:
    return (constraint.parent.name, tuple(c.name for c in constraint.columns), constraint.referred_table.name)


def without_unnamed_sqlite_fks(diff: list) -> list:
    """SQLite cannot name a foreign key added with ADD COLUMN (migration 0009 adds them that way to avoid
    a table rebuild that would cascade deletes); a remove/add pair differing only by name is the same key."""
    removed = {fk_signature(d[1]) for d in diff if d[0] == "remove_fk" and d[1].name is None}
    added = {fk_signature(d[1]) for d in diff if d[0] == "add_fk"}
    same = removed & added
    return [d for d in diff if not (d[0] in {"remove_fk", "add_fk"} and fk_signature(d[1]) in same)]


async def test_models_and_migrations_agree(database_url: str) -> None:
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(
                        sync, opts={"compare_type": True, "include_name": include_name}
                    ),
                    metadata,
                )
            )
    finally:
        await db.dispose()
    if is_sqlite(database_url):
        diff = without_unnamed_sqlite_fks(diff)
    assert diff == []
