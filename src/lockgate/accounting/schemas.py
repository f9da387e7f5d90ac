"""Accounting's values: the tokens a request used (`Usage`), and what is recorded about it."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from lockgate.accounting.carbon import ZERO, Footprint

_COUNTS = frozenset({"prompt_tokens", "completion_tokens", "total_tokens"})
NO_DETAILS: Mapping[str, Any] = MappingProxyType({})


class Usage(NamedTuple):
    """Tokens one request used, from the provider's report or estimated (`estimated`), and once settled
    its cost (in the router's currency) and carbon footprint.

    `details` carries the provider's other usage fields (`prompt_tokens_details`...) as it sent them,
    so the OpenAI surface passes them on.

    A NamedTuple rather than a frozen dataclass, like GenerationRequest: as immutable, and built in a
    fifth of the time (a frozen dataclass sets each field through object.__setattr__); every request
    builds two (reported, then settled)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    estimated: bool = False
    details: Mapping[str, Any] = NO_DETAILS
    cost: float | None = None  # None until settled
    carbon: Footprint = ZERO

    @classmethod
    def counted(cls, prompt_tokens: int, completion_tokens: int = 0, estimated: bool = False) -> Usage:
        return cls(prompt_tokens, completion_tokens, prompt_tokens + completion_tokens, estimated)

    @classmethod
    def from_wire(cls, usage: Mapping[str, Any] | None) -> Usage | None:
        """An OpenAI usage object whose counts are numbers or null (checked by the caller), or None when
        it reports no prompt tokens (then the request's usage is estimated)."""
        if not usage or (prompt := usage.get("prompt_tokens")) is None:
            return None
        prompt = int(prompt)
        completion = int(usage.get("completion_tokens") or 0)
        total = int(usage.get("total_tokens") or prompt + completion)
        if usage.keys() <= _COUNTS:  # the usual report: the counts alone
            return cls(prompt, completion, total)
        return cls(prompt, completion, total, details={k: v for k, v in usage.items() if k not in _COUNTS})

    def settled(self, cost: float, carbon: Footprint) -> Usage:
        prompt, completion, total, estimated, details, _, _ = self
        return Usage(prompt, completion, total, estimated, details, cost, carbon)

    def wire(self) -> dict[str, Any]:
        """The OpenAI usage object; once settled with Lockgate's `cost`, `carbon` and `requests`."""
        counts: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        body = {**self.details, **counts} if self.details else counts
        if self.estimated:
            body["estimated"] = True
        if self.cost is not None:
            body["cost"] = self.cost
            body["carbon"] = self.carbon.as_usage()
            body["requests"] = 1
        return body


class Outcome(NamedTuple):
    """How a request ended, as its usage row records it. `latency_ms` runs from admission to the end;
    `ttft_ms` (streams) to the first output; `provider_id` None when no provider was reached."""

    status: int
    usage: Usage
    latency_ms: float
    provider_id: int | None = None
    ttft_ms: float | None = None
