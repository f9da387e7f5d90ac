"""Typed stream events: what providers yield and surfaces turn into bytes (SSE) at the edge."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from lockgate.accounting.schemas import Usage


@dataclass(slots=True)
class ChunkEvent:
    """One OpenAI-format chunk (chat.completion.chunk or text_completion), already parsed."""

    payload: dict[str, Any]


@dataclass(slots=True)
class UsageEvent:
    """The usage: the provider's report; from the gateway, the settled usage (cost and carbon).
    `extra`: more fields the last chunk carries (e.g. a grounded chat's `search_results`, which
    OpenGateLLM clients read there)."""

    usage: Usage
    extra: dict[str, Any] | None = None


@dataclass(slots=True)
class ErrorEvent:
    """The stream broke after it started: the client must see an error, never a clean finish."""

    message: str
    type: str = "api_error"
    code: str = "upstream_error"


StreamEvent = ChunkEvent | UsageEvent | ErrorEvent

# An open stream of events; `aclose()` ends it early (the provider's connection is given back).
StreamEvents = AsyncGenerator[StreamEvent, None]
