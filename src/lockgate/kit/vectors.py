"""Embedding vector helpers: truncation to `dimensions`, OpenAI's base64 float32 encoding."""

from __future__ import annotations

import base64
import math
import struct


def renormalize_truncated(vector: list[float], dimensions: int) -> list[float]:
    """Matryoshka-style truncation: keep the first `dimensions` values, back to unit length."""
    head = vector[:dimensions]
    norm = math.sqrt(sum(v * v for v in head)) or 1.0
    return [v / norm for v in head]


def encode_base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def decode_base64(data: str) -> list[float]:
    raw = base64.b64decode(data)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))
