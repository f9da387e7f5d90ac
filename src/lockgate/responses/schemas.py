"""Domain values of stored responses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ResponseRecord:
    """What is kept of one response: the wire object, its input items and the chat history."""

    id: str
    model: str
    created: int
    previous_response_id: str | None
    body: dict[str, Any]
    input_items: list[dict[str, Any]]
    history: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Citation:
    """A retrieved chunk the answer may cite: document id and name, collection, score, text."""

    document_id: int
    filename: str
    collection_id: int
    score: float
    text: str
