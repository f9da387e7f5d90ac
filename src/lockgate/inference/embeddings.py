"""Sentence embeddings with an ONNX model (all-MiniLM-L6-v2 int8): tokenizers + onnxruntime,
mean pooling and L2 normalisation, in batches."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lockgate.inference.worker import EngineWorker

if TYPE_CHECKING:
    import numpy as np

BATCH = 32
MAX_TOKENS = 256


class OnnxEmbedder:
    def __init__(self, name: str, model_path: Path, tokenizer_path: Path, threads: int = 1):
        self.name = name
        self.threads = threads  # onnxruntime intra-op threads
        self.model_path = model_path
        self.tokenizer_path = tokenizer_path
        self.worker = EngineWorker(name)
        self.dimensions = 0
        self.max_tokens = MAX_TOKENS
        self._session = None
        self._tokenizer = None

    def load(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(self.model_path), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(self.tokenizer_path))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer = tokenizer
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dimensions = int(self._embed_batch(["dimension probe"])[0].shape[1])

    def _embed_batch(self, texts: list[str]) -> tuple[np.ndarray, int]:
        import numpy as np

        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None), int(mask.sum())

    def embed_sync(self, texts: list[str]) -> tuple[list[list[float]], int]:
        vectors: list[list[float]] = []
        tokens = 0
        for start in range(0, len(texts), BATCH):
            batch, count = self._embed_batch(texts[start : start + BATCH])
            vectors.extend(batch.astype(float).tolist())
            tokens += count
        return vectors, tokens

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Vectors (unit length) and the number of tokens read."""
        return await self.worker.run(self.embed_sync, texts)

    def close(self) -> None:
        self.worker.close()
