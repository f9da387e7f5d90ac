"""Deterministic helpers shared by the fake providers: word counts, vectors, scores, ids, error bodies."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import struct
import time
import uuid
from typing import Any

from starlette.responses import JSONResponse, Response

_WORD = re.compile(r"\w+")


class AbruptClose(Exception):
    """Raised inside a streaming body so uvicorn drops the connection mid-response."""


class Reject(Exception):
    """Raised by a handler to answer with an error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def words(text: str) -> list[str]:
    """Whitespace-separated words: the fakes' notion of a token."""
    return text.split()


def count_tokens(item: str | list[int]) -> int:
    return len(item) if isinstance(item, list) else len(words(item))


def pieces(text: str) -> list[str]:
    """Split text into stream pieces ("word " with its trailing space); ''.join(pieces(t)) == t."""
    return re.findall(r"\S+\s*|\s+", text)


def truncate_words(text: str, limit: int) -> str:
    return " ".join(words(text)[:limit])


def vector(item: str | list[int], dim: int) -> list[float]:
    """A unit-norm vector derived from a hash of the input: same input, same vector."""
    key = item if isinstance(item, str) else json.dumps(item)
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    return normalize([rng.gauss(0.0, 1.0) for _ in range(dim)])


def normalize(values: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def to_base64(values: list[float]) -> str:
    """OpenAI's encoding_format=base64: little-endian float32 array."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def overlap(query: str, document: str) -> float:
    """Fraction of the query's distinct words (lower-cased) found in the document."""
    q = set(_WORD.findall(query.lower()))
    d = set(_WORD.findall(document.lower()))
    return len(q & d) / len(q) if q else 0.0


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


def openai_error(
    status: int,
    message: str,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: Any = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def tei_error(status: int, message: str, error_type: str) -> JSONResponse:
    return JSONResponse({"error": message, "error_type": error_type}, status_code=status)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def embedding_items(value: Any) -> list[str | list[int]]:
    """OpenAI's `input`: str | list[str] | list[int] | list[list[int]] -> one item per vector."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return list(value)
        if all(is_int(v) for v in value):
            return [value]
        if all(isinstance(v, list) and v and all(is_int(t) for t in v) for v in value):
            return list(value)
    raise ValueError("'input' must be a string, a list of strings, a list of token ids or a list of lists.")


def embeddings_payload(body: dict[str, Any], model: str, dim: int, send_usage: bool) -> dict[str, Any]:
    """An OpenAI /v1/embeddings response for `body`; raises ValueError with a message on bad input."""
    items = embedding_items(body.get("input"))
    size = body.get("dimensions")
    if size is not None and (not is_int(size) or not 1 <= size <= dim):
        raise ValueError(f"'dimensions' must be an integer between 1 and {dim}.")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise ValueError("'encoding_format' must be 'float' or 'base64'.")
    data = []
    for index, item in enumerate(items):
        values = vector(item, dim)
        if size is not None:
            values = normalize(values[:size])
        embedding: list[float] | str = to_base64(values) if encoding == "base64" else values
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    out: dict[str, Any] = {"object": "list", "data": data, "model": model}
    if send_usage:
        tokens = sum(count_tokens(item) for item in items)
        out["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
    return out


def stopped_at(stop: Any, text: str, finish: str) -> tuple[str, str, str | None]:
    """(text, finish_reason, the stop sequence matched): cut before the earliest stop sequence."""
    stops = [stop] if isinstance(stop, str) else [s for s in stop or () if isinstance(s, str) and s]
    found = [(text.find(s), n, s) for n, s in enumerate(stops) if s and s in text]
    if not found:
        return text, finish, None
    at, _, matched = min(found)
    return text[:at], "stop", matched
