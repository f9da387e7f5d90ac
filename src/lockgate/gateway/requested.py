"""Answers held to what the client asked when the upstream did not honour it: some OpenAI-compatible
servers ignore `encoding_format` on embeddings or `top_n` on rerank."""

from __future__ import annotations

from typing import Any

from lockgate.kit.vectors import encode_base64


def encoded_embeddings(answer: dict[str, Any], encoding_format: str | None) -> dict[str, Any]:
    """`answer` with every float vector base64-encoded when base64 was asked (encoded ones untouched)."""
    if encoding_format == "base64":
        for item in answer.get("data") or ():
            if isinstance(item.get("embedding"), list):
                item["embedding"] = encode_base64(item["embedding"])
    return answer


def top_results(results: list[dict[str, Any]], top_n: int | None) -> list[dict[str, Any]]:
    """Rerank results best first, at most `top_n` of them (all when None)."""
    ranked = sorted(results, key=lambda r: r["relevance_score"], reverse=True)
    return ranked[:top_n] if top_n else ranked
