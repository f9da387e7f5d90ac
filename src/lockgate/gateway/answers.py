"""What an upstream answer must look like before the gateway trusts it.

Every check raises UpstreamBadGateway (retryable: another provider may answer properly) with a message
that says what was wrong, never what the upstream sent."""

from __future__ import annotations

import math
from typing import Any

from lockgate.accounting.schemas import Usage
from lockgate.errors import UpstreamBadGateway

_TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


def _refuse(what: str) -> UpstreamBadGateway:
    return UpstreamBadGateway(f"The provider's answer is unusable: {what}.")


def _object(answer: Any, what: str) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise _refuse(f"{what} is {type(answer).__name__}, not a JSON object")
    return answer


def _objects(value: Any, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _refuse(f"'{field}' is not a list of objects")
    return value


def usage(value: Any) -> dict[str, Any] | None:
    """None, or a usage object whose token counts are finite non-negative numbers (or null)."""
    if value is None:
        return None
    found = _object(value, "'usage'")
    for name in _TOKEN_FIELDS:
        count = found.get(name)
        if count is None:
            continue
        if type(count) is int:  # the usual case, checked at once (bool is not int by `type`)
            if count < 0:
                raise _refuse(f"'usage.{name}' is negative")
            continue
        if isinstance(count, bool) or not isinstance(count, (int, float)) or not math.isfinite(count):
            raise _refuse(f"'usage.{name}' is not a number")
        if count < 0:
            raise _refuse(f"'usage.{name}' is negative")
    return found


def reported_usage(value: Any) -> Usage | None:
    """The provider's usage object, checked (see `usage`), as a Usage; None when it reports no prompt
    tokens."""
    return Usage.from_wire(usage(value))


def generation(answer: Any) -> dict[str, Any]:
    """A chat.completion or text_completion: an object with a list of choice objects."""
    found = _object(answer, "the answer")
    _objects(found.get("choices"), "choices")
    usage(found.get("usage"))
    return found


def chunk(payload: Any) -> dict[str, Any]:
    """One stream chunk: an object; its choices (when present) a list of objects."""
    found = _object(payload, "a stream chunk")
    if found.get("choices") is not None:
        _objects(found["choices"], "choices")
    return found


def embeddings(answer: Any) -> dict[str, Any]:
    """An embeddings list: an object whose `data` holds objects carrying an `embedding`."""
    found = _object(answer, "the answer")
    for item in _objects(found.get("data"), "data"):
        if not isinstance(item.get("embedding"), list | str):
            raise _refuse("an item of 'data' has no 'embedding'")
    usage(found.get("usage"))
    return found


def rerank(answer: Any) -> dict[str, Any]:
    """Rerank results as the adapters shape them: index and relevance_score on each."""
    found = _object(answer, "the answer")
    for item in _objects(found.get("results"), "results"):
        score = item.get("relevance_score")
        if (
            not isinstance(item.get("index"), int)
            or isinstance(score, bool)
            or not isinstance(score, int | float)
        ):
            raise _refuse("a rerank result lacks a numeric 'index' or 'relevance_score'")
    tokens = found.get("prompt_tokens")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int)):
        raise _refuse("the rerank token count is not a number")
    return found


def any_object(answer: Any) -> dict[str, Any]:
    """Answers with no fixed shape of their own (OCR, JSON transcriptions): an object, usage checked."""
    found = _object(answer, "the answer")
    usage(found.get("usage"))
    return found
