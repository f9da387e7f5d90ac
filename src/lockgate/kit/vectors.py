"""Embedding vector helpers: truncation to `dimensions`, OpenAI's base64 float32 encoding."""

from __future__ import annotations

import base64
import math
import struct
from typing import Any


def renormalize_truncated(vector: list[float], dimensions: int) -> list[float]:
    """Matryoshka-style truncation: keep the first `dimensions` values, back to unit length."""
    head = vector[:dimensions]
    norm = math.sqrt(sum(v * v for v in head)) or 1.0
    return [v / norm for v in head]


def encode_base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def embedding_items(
    vectors: list[list[float]], dimensions: int | None, encoding_format: str | None
) -> list[dict[str, Any]]:
    """OpenAI `data` items for raw vectors, honouring `dimensions` and `encoding_format`."""
    items = []
    for index, vector in enumerate(vectors):
        if dimensions:
            vector = renormalize_truncated(vector, dimensions)
        embedding = encode_base64(vector) if encoding_format == "base64" else vector
        items.append({"object": "embedding", "index": index, "embedding": embedding})
    return items


def token_id_inputs(inputs: str | list[Any]) -> list[list[int]] | None:
    """OpenAI's token-id forms of embedding `input` (a list of ids, or a list of such lists) as a list
    of sequences; None for any other form. Ids are not checked here: only the engine knows its vocabulary."""
    if not isinstance(inputs, list) or not inputs:
        return None
    if all(isinstance(t, int) and not isinstance(t, bool) for t in inputs):
        return [inputs]
    if all(isinstance(s, list) for s in inputs):
        return inputs
    return None


def text_inputs(inputs: str | list[Any]) -> list[str]:
    """Embedding inputs as texts; engines that read text refuse token ids with a 400 saying why."""
    from lockgate.errors import BadRequest

    texts = [inputs] if isinstance(inputs, str) else inputs
    if not texts or any(isinstance(t, str) and not t for t in texts):
        raise BadRequest("input: must not be empty (nor contain an empty string).", param="input")
    if not all(isinstance(t, str) for t in texts):
        raise BadRequest(
            "input: this model reads text, not token ids (its tokenizer is not the one the ids would "
            "come from); send the text instead.",
            param="input",
        )
    return texts
