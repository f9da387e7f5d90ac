"""Migration 0011: on SQLite, ids of the tables clients see are never handed out again after a delete,
and an existing database keeps every row, index, trigger and foreign key through the rebuild."""

from __future__ import annotations

import sqlite3

from alembic import command

from lockgate.migrate import alembic_config, upgrade

REBUILT = ("organizations", "roles", "collections", "documents", "chunks", "uploads", "chat_sessions")


def _seed(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        PRAGMA foreign_keys=ON;
        INSERT INTO roles (id, name, created, updated) VALUES (1, 'r', 0, 0);
        INSERT INTO users (id, email, role_id, priority, is_master, created, updated)
            VALUES (1, 'a@x', 1, 0, 0, 0, 0);
        INSERT INTO collections (id, name, visibility, owner_id, created, updated, vectors_version, settings)
            VALUES (1, 'c1', 'private', 1, 0, 0, 0, '{}'), (2, 'c2', 'private', 1, 0, 0, 0, '{}');
        INSERT INTO documents (id, collection_id, name, chunks, created, size, pages, metadata, updated)
            VALUES (1, 2, 'd', 1, 0, 1, 1, '{}', 0), (2, 2, 'd2', 1, 0, 1, 1, '{}', 0);
        INSERT INTO chunks
            (id, document_id, collection_id, position, content, metadata, embedding, created, length)
            VALUES (1, 1, 2, 0, 'pasta with basil', '{}', x'00', 0, 16),
                   (2, 2, 2, 0, 'tomato soup', '{}', x'00', 0, 11);
        DELETE FROM documents WHERE id = 2;
        DELETE FROM collections WHERE id = 1;
        """
    )
    db.commit()


def test_an_existing_sqlite_database_is_rebuilt_with_autoincrement(tmp_path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0010")
    with sqlite3.connect(path) as db:
        _seed(db)
        assert db.execute("SELECT count(*) FROM chunks").fetchone() == (1,)  # the cascade ran
    upgrade(url, "head")
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys=ON")
    sql = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
    for table in REBUILT:
        assert "AUTOINCREMENT" in sql[table], table
    # rows, foreign keys, indexes and the FTS triggers survived the rebuild
    assert db.execute("SELECT id, name FROM collections").fetchall() == [(2, "c2")]
    assert db.execute("SELECT id FROM documents").fetchall() == [(1,)]
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"ix_chunks_collection_document", "ix_documents_collection_id"} <= indexes
    assert db.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH 'pasta'").fetchall() == [(1,)]
    # a deleted newest id is not handed out again (it was before: max(id) + 1)
    db.execute("DELETE FROM collections WHERE id = 2")  # cascades to documents and chunks
    assert db.execute("SELECT count(*) FROM chunks").fetchone() == (0,)
    db.execute(
        "INSERT INTO collections (name, visibility, owner_id, created, updated, vectors_version, settings) "
        "VALUES ('new', 'private', 1, 0, 0, 0, '{}')"
    )
    assert db.execute("SELECT id FROM collections").fetchall() == [(3,)]
    db.execute(
        "INSERT INTO documents (collection_id, name, chunks, created, size, pages, metadata, updated) "
        "VALUES (3, 'n', 0, 0, 0, 0, '{}', 0)"
    )
    # document 2 was deleted before the migration, when its id could not be recorded: the sequence starts
    # after the highest id in use then (1), and from now on never goes back
    assert db.execute("SELECT id FROM documents").fetchall() == [(2,)]
    db.execute("DELETE FROM documents")
    db.execute(
        "INSERT INTO documents (collection_id, name, chunks, created, size, pages, metadata, updated) "
        "VALUES (3, 'n', 0, 0, 0, 0, '{}', 0)"
    )
    assert db.execute("SELECT id FROM documents").fetchall() == [(3,)]
    db.commit()
    db.close()
    command.downgrade(alembic_config(url), "0010")  # and back
    with sqlite3.connect(path) as db:
        assert (
            "AUTOINCREMENT"
            not in db.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks'").fetchone()[0]
        )
        assert db.execute("SELECT id FROM collections").fetchall() == [(3,)]
