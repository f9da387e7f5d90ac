"""PostgreSQL's BM25 postings in FTS5's terms (ADR 0026)

The PostgreSQL store now indexes and ranks with the terms SQLite's FTS5 index makes (tokenizer
'porter unicode61', every word kept) instead of Snowball stems without stop words, so a collection
ranks the same on both databases. Every chunk's postings and length are made again here with FTS5
itself (Python's sqlite3, in memory), in batches; every collection's vectors version moves, so no
replica ranks from postings it read before. Nothing on SQLite (FTS5 is its index).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 20:30:00
"""

import sqlite3
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
MAX_TERM = 64  # chunk_terms.term


def fts5_postings(chunks: list[tuple[int, str]]) -> tuple[list[dict[str, object]], dict[int, int]]:
    """(chunk_terms rows, tokens per chunk) of these (id, text), as FTS5 'porter unicode61' makes them."""
    words = sqlite3.connect(":memory:")
    try:
        words.execute("CREATE VIRTUAL TABLE words USING fts5(word, tokenize='porter unicode61')")
        words.execute("CREATE VIRTUAL TABLE words_instance USING fts5vocab(words, instance)")
        words.executemany("INSERT INTO words(rowid, word) VALUES (?, ?)", chunks)
        counts: dict[tuple[int, str], int] = {}
        lengths = {chunk_id: 0 for chunk_id, _ in chunks}
        for term, doc, tf in words.execute(
            "SELECT term, doc, count(*) FROM words_instance GROUP BY term, doc"
        ):
            key = (doc, term[:MAX_TERM])
            counts[key] = counts.get(key, 0) + tf
            lengths[doc] += tf
    finally:
        words.close()
    return [{"chunk_id": c, "term": t, "tf": tf} for (c, t), tf in counts.items()], lengths


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    terms = sa.table(
        "chunk_terms",
        sa.column("chunk_id", sa.Integer),
        sa.column("term", sa.String),
        sa.column("tf", sa.Integer),
    )
    last = 0
    while True:
        chunks = bind.execute(
            sa.text("SELECT id, content FROM chunks WHERE id > :last ORDER BY id LIMIT :batch"),
            {"last": last, "batch": BATCH},
        ).all()
        if not chunks:
            break
        last = chunks[-1][0]
        rows, lengths = fts5_postings([(c[0], c[1]) for c in chunks])
        bind.execute(
            sa.text("DELETE FROM chunk_terms WHERE chunk_id >= :first AND chunk_id <= :last"),
            {"first": chunks[0][0], "last": last},
        )
        if rows:
            bind.execute(terms.insert(), rows)
        bind.execute(
            sa.text("UPDATE chunks SET length = :length WHERE id = :id"),
            [{"id": chunk_id, "length": length} for chunk_id, length in lengths.items()],
        )
    bind.execute(sa.text("UPDATE collections SET vectors_version = vectors_version + 1"))


def downgrade() -> None:
    """The postings stay FTS5's: the older code ranks with them (its stems match fewer of them)."""
