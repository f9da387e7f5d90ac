"""Chunks measured in the embedding model's own tokens (MiniLM's WordPiece tokenizer, the file the local
embedder loads), the documented estimate for remote embedders, defaults that fit the window, and the
count of chunks longer than the model reads."""

from __future__ import annotations

import pytest

from lockgate.errors import InvalidRequest
from lockgate.inference.packages import minilm_tokenizer
from lockgate.rag.chunking import ChunkingOptions, oversized, split
from lockgate.rag.parsing import Page
from lockgate.rag.tokens import CHARS_PER_TOKEN, TokenCounter

MINILM = TokenCounter(256, str(minilm_tokenizer()))
# Words the WordPiece vocabulary cuts into several tokens each: characters say little about tokens here.
TEXT = "\n\n".join(
    f"Paragraph {i}: photosynthesis in chloroplasts converts irradiance, carboxylation and "
    "phosphorylation energetics into glyceraldehyde-3-phosphate; thylakoid electrochemistry follows."
    for i in range(60)
)


def test_the_local_tokenizer_counts_without_special_tokens_and_reserves_them() -> None:
    assert MINILM.exact and MINILM.count("hello world") == 2
    assert MINILM.budget == 254  # [CLS] and [SEP] take two of the 256


def test_default_chunks_fill_the_embedders_window_and_never_pass_it() -> None:
    chunks = [text for text, _ in split([Page(TEXT)], ChunkingOptions(), MINILM)]
    counts = MINILM.counts(chunks)
    assert len(chunks) > 3
    assert max(counts) <= 254 and oversized(chunks, MINILM) == 0
    assert sum(counts) / len(counts) > 127  # filled, not cut small
    assert "".join(chunks).replace("\n", "") == TEXT.replace("\n", "")  # nothing lost


def test_character_sizes_stay_characters_and_oversized_chunks_are_counted() -> None:
    options = ChunkingOptions(chunk_size=2048)  # OpenGateLLM's characters
    chunks = [text for text, _ in split([Page(TEXT)], options, MINILM)]
    assert max(len(c) for c in chunks) <= 2048 and max(len(c) for c in chunks) > 1500
    full = [c for c in chunks if len(c) > 1500]  # all but maybe the last
    assert len(full) >= len(chunks) - 1 and oversized(full, MINILM) == len(full)  # > 254 tokens each


def test_sizes_in_tokens_and_overlap_in_tokens() -> None:
    options = ChunkingOptions(chunk_size=100, unit="tokens", chunk_overlap=20)
    chunks = [text for text, _ in split([Page(TEXT)], options, MINILM)]
    assert max(MINILM.counts(chunks)) <= 100
    with pytest.raises(InvalidRequest) as refused:
        split([Page(TEXT)], ChunkingOptions(chunk_size=10, unit="tokens", chunk_overlap=10), MINILM)
    assert refused.value.param == "chunk_overlap"


def test_remote_embedders_use_the_estimate_and_their_known_window() -> None:
    remote = TokenCounter(window=512)
    assert not remote.exact and remote.count("x" * 9) == 3 and CHARS_PER_TOKEN == 4
    chunks = [text for text, _ in split([Page(TEXT)], ChunkingOptions(), remote)]
    assert max(len(c) for c in chunks) <= 512 * CHARS_PER_TOKEN


def test_an_unknown_window_falls_back_to_2048_characters() -> None:
    unknown = TokenCounter()
    assert unknown.budget is None
    chunks = [text for text, _ in split([Page(TEXT)], ChunkingOptions(), unknown)]
    assert 1500 < max(len(c) for c in chunks) <= 2048
    assert oversized(chunks, unknown) == 0  # nothing to warn about without a window
