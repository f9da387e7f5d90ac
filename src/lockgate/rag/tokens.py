"""Chunk lengths in the embedding model's tokens: counted by its own tokenizer when the model runs here,
estimated at CHARS_PER_TOKEN characters a token when it is remote. The model reads at most `window`
tokens of a chunk (special tokens included); the rest of a longer chunk never reaches its vector."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from lockgate.gateway.service import GatewayService

# The documented estimate for remote embedders: English prose averages about four characters per token
# in WordPiece and BPE vocabularies (more tokens per character in other scripts: an underestimate there).
CHARS_PER_TOKEN = 4
# Chunks when neither the request nor the embedder says better (OpenGateLLM's default, in characters).
FALLBACK_CHUNK_CHARACTERS = 2048


@lru_cache(maxsize=4)
def _tokenizer(path: str) -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(path)
    tokenizer.no_truncation()  # the file's own truncation and padding would hide the true length
    tokenizer.no_padding()
    return tokenizer


@dataclass(frozen=True, slots=True)
class TokenCounter:
    """Counts tokens as the embedding model does. Picklable: a worker process loads the tokenizer from
    its path on first use. `window`: tokens the model reads per input (None: unknown)."""

    window: int | None = None
    tokenizer_path: str | None = None  # the local model's tokenizer.json; None: the character estimate

    @property
    def exact(self) -> bool:
        return self.tokenizer_path is not None

    def count(self, text: str) -> int:
        """Tokens of `text`, without the model's special tokens."""
        if self.tokenizer_path is None:
            return math.ceil(len(text) / CHARS_PER_TOKEN)
        return len(_tokenizer(self.tokenizer_path).encode(text, add_special_tokens=False).ids)

    def counts(self, texts: list[str]) -> list[int]:
        if self.tokenizer_path is None:
            return [self.count(text) for text in texts]
        encodings = _tokenizer(self.tokenizer_path).encode_batch(texts, add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    @property
    def budget(self) -> int | None:
        """Tokens of text one input may hold and still be read whole (the window less the special tokens
        the model adds, such as [CLS] and [SEP]); None when the window is unknown."""
        if self.window is None:
            return None
        special = len(_tokenizer(self.tokenizer_path).encode("").ids) if self.tokenizer_path else 0
        return max(1, self.window - special)


def counter_for(gateway: GatewayService, model: str) -> TokenCounter:
    """The counter of the embedding model `model` as this server serves it: the local ONNX model's own
    tokenizer and window, else the window the router learnt from its upstream (if any) and the estimate."""
    from lockgate.errors import AppError
    from lockgate.gateway.schemas import Endpoint
    from lockgate.inference.embeddings import OnnxEmbedder

    try:
        router = gateway.resolve(model, Endpoint.EMBEDDINGS)
    except AppError:
        return TokenCounter()
    for provider in router.providers:
        engine = getattr(provider.adapter, "engine", None)
        if isinstance(engine, OnnxEmbedder):
            return TokenCounter(engine.max_tokens, str(engine.tokenizer_path))
    return TokenCounter(router.max_context_length)
