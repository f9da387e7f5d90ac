"""RAG tests run against a live Lockgate with the real local models, once on SQLite (FTS5 BM25) and once
on PostgreSQL (BM25 postings and pgvector HNSW)."""

from __future__ import annotations

import pytest

from tests.live import local_models_server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def local(request, tmp_path_factory, sqlite_template, postgres):
    directory = tmp_path_factory.mktemp("rag")
    with local_models_server(request.param, directory, sqlite_template, postgres) as live:
        yield live
