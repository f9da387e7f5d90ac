"""Sentence embeddings with an ONNX model (all-MiniLM-L6-v2 int8): tokenizers + onnxruntime,
mean pooling and L2 normalisation, in batches. Input is text, or token ids of the model's own
tokenizer (OpenAI's list-of-ids `input`): checked against the vocabulary and the window first, as an id
outside the embedding table would fail inside onnxruntime."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockgate.errors import BadRequest
from lockgate.inference import bounds
from lockgate.inference.worker import EngineWorker

if TYPE_CHECKING:
    import numpy as np

BATCH = 32
BATCH_TOKENS = 512  # padded tokens per model run (batch size times its longest text)
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
        self._session: Any = None  # an onnxruntime InferenceSession once loaded
        self._tokenizer: Any = None  # a tokenizers Tokenizer once loaded
        self._counter: Any = None  # the same Tokenizer without padding, for lengths

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
        counter = Tokenizer.from_file(str(self.tokenizer_path))  # lengths only: no padding
        counter.enable_truncation(max_length=MAX_TOKENS)
        counter.no_padding()
        self._counter = counter
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.n_vocab = tokenizer.get_vocab_size()
        cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        if cls is None or sep is None:  # the embedder frames token ids as its WordPiece tokenizer does
            raise RuntimeError(f"{self.tokenizer_path}: no [CLS]/[SEP] token: not a WordPiece tokenizer")
        self._cls, self._sep = cls, sep
        self.dimensions = int(self._embed_batch(["dimension probe"])[0].shape[1])

    def _embed_batch(self, texts: list[str]) -> tuple[np.ndarray, int]:
        import numpy as np

        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return self._run(ids, mask)

    def _embed_id_batch(self, sequences: list[list[int]]) -> tuple[np.ndarray, int]:
        """Each sequence framed as the tokenizer frames text ([CLS] ids [SEP]) and padded."""
        import numpy as np

        framed = [[self._cls, *s, self._sep] for s in sequences]
        width = max(len(f) for f in framed)
        ids = np.zeros((len(framed), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, tokens in enumerate(framed):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        return self._run(ids, mask)

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, int]:
        import numpy as np

        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None), int(mask.sum())

    def plan(self, texts: list[str]) -> list[list[int]]:
        """Batches of text indices, longest first, each of at most BATCH_TOKENS padded tokens."""
        # On CPU this model runs memory-bound: a batch of 32 texts of 256 tokens took twice as long as
        # the same texts one by one (bench/README.md), while short texts (queries) still share a batch.
        encodings = self._counter.encode_batch(texts)
        lengths = [min(len(e.ids), self.max_tokens) for e in encodings]
        order = sorted(range(len(texts)), key=lambda i: lengths[i], reverse=True)
        batches: list[list[int]] = []
        start = 0
        while start < len(order):
            width = max(1, lengths[order[start]])
            size = max(1, min(BATCH, BATCH_TOKENS // width))
            batches.append(order[start : start + size])
            start += size
        return batches

    def embed_rows(self, texts: list[str], indices: list[int]) -> tuple[list[list[float]], int]:
        batch, count = self._embed_batch([texts[i] for i in indices])
        return batch.astype(float).tolist(), count

    def embed_sync(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """`embed` in the calling thread (benches)."""
        return _in_order(len(texts), [(i, *self.embed_rows(texts, i)) for i in self.plan(texts)])

    def check_token_ids(self, sequences: list[list[int]]) -> None:
        """400 naming the input for anything but non-empty id lists of this vocabulary and window."""
        room = self.max_tokens - 2  # [CLS] and [SEP] frame every sequence
        for index, sequence in enumerate(sequences):
            where = f"input.{index}" if len(sequences) > 1 else "input"
            if not sequence:
                raise BadRequest(f"{where}: must not be empty.", param="input")
            bounds.token_ids(sequence, self.n_vocab, where)
            if len(sequence) > room:
                raise BadRequest(
                    f"{where}: {len(sequence)} token ids; this model reads at most {room}.", param="input"
                )

    def embed_id_rows(self, sequences: list[list[int]]) -> tuple[list[list[float]], int]:
        batch, count = self._embed_id_batch(sequences)
        return batch.astype(float).tolist(), count

    async def embed_token_ids(self, sequences: list[list[int]]) -> tuple[list[list[float]], int]:
        """Vectors of token-id sequences of this model's tokenizer; 400 for ids it cannot read.
        BATCH sequences per turn on the engine thread, as `embed` does."""
        self.check_token_ids(sequences)
        vectors: list[list[float]] = []
        tokens = 0
        for start in range(0, len(sequences), BATCH):
            rows, count = await self.worker.run(self.embed_id_rows, sequences[start : start + BATCH])
            vectors.extend(rows)
            tokens += count
        return vectors, tokens

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Vectors (unit length) and the number of tokens read.

        Each batch is its own turn on the engine thread: a search query that arrives while a large
        ingestion is being embedded waits behind a batch or two of it (the query's plan and its batch
        are two turns), not behind the whole document's chunks."""
        batches = [
            (indices, *await self.worker.run(self.embed_rows, texts, indices))
            for indices in await self.worker.run(self.plan, texts)
        ]
        return _in_order(len(texts), batches)

    def close(self) -> None:
        self.worker.close()


def _in_order(
    size: int, batches: list[tuple[list[int], list[list[float]], int]]
) -> tuple[list[list[float]], int]:
    """Vectors back in input order from (indices, vectors, tokens) batches; the tokens summed."""
    vectors: list[list[float]] = [[] for _ in range(size)]
    for indices, rows, _ in batches:
        for i, vector in zip(indices, rows, strict=True):
            vectors[i] = vector
    return vectors, sum(tokens for _, _, tokens in batches)
