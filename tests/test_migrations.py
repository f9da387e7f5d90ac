"""The migrations build exactly the schema the ORM models describe, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lockgate.db_models import include_name, metadata
from lockgate.kit.db import Database


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
    assert diff == []
