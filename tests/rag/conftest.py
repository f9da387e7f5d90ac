"""RAG tests run against a live Lockgate with the real local models, once on SQLite (FTS5 BM25) and once
on PostgreSQL (BM25 over term postings)."""

from __future__ import annotations

import importlib.util
import os

import pytest

from lockgate.config import Settings
from tests import backends
from tests.helpers import MASTER_KEY
from tests.inference.conftest import REQUIRED
from tests.live import live_server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def local(request, tmp_path_factory, sqlite_template, postgres):
    missing = [m for m in REQUIRED if importlib.util.find_spec(m) is None]
    if missing:
        message = f"local models not installed ({', '.join(missing)}): pip install -e '.[local]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    directory = tmp_path_factory.mktemp("rag")
    if request.param == "sqlite":
        url = backends.fresh_sqlite(sqlite_template, directory)
    else:
        found, reason = postgres
        if found is None:
            pytest.skip(reason)
        url = backends.fresh_postgres_sync(*found)
    settings = Settings(
        data_dir=directory, database_url=url, master_key=MASTER_KEY, log_format="text", local_models="on"
    )
    with live_server(settings) as live:
        yield live
