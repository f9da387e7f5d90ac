"""Token usage: taken from the provider whenever it reports it, estimated (and marked so) otherwise."""

from __future__ import annotations

from typing import Any

# Roughly four characters per token for English-like text: only used when the provider reports nothing.
CHARS_PER_TOKEN = 4


def estimate_tokens(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return max(1, (len(value) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN) if value else 0
    if isinstance(value, int):
        return 1
    if isinstance(value, list):
        return sum(estimate_tokens(v) for v in value)
    if isinstance(value, dict):
        # Count the text fields; walk into nested structures (choices → message → tool_calls → ...).
        return sum(
            estimate_tokens(v) if k in _TEXT_KEYS or isinstance(v, dict | list) else 0
            for k, v in value.items()
        )
    return 0


_TEXT_KEYS = frozenset({"content", "text", "arguments", "input", "prompt"})


def normalize_usage(usage: dict[str, Any] | None, prompt: Any, completion: Any) -> dict[str, Any]:
    """An OpenAI usage object; estimated from the request and answer when the provider gave none."""
    if usage and usage.get("prompt_tokens") is not None:
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or 0)
        result = dict(usage)
        result.update(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=int(usage.get("total_tokens") or prompt_tokens + completion_tokens),
        )
        return result
    prompt_tokens, completion_tokens = estimate_tokens(prompt), estimate_tokens(completion)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "estimated": True,
    }


def requested_tokens(body: dict[str, Any]) -> int | None:
    """The completion tokens a generation request may use across all its choices (None: no limit set)."""
    value = body.get("max_completion_tokens") or body.get("max_tokens")
    return int(value) * int(body.get("n") or 1) if value else None
