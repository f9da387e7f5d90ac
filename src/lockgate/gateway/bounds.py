"""Size and time bounds on what an upstream may send: a broken or hostile provider cannot hold a request,
a worker's memory or a client forever."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

MIB = 1024 * 1024
# The largest token count a request may ask for (max_tokens, max_output_tokens, top_k…): far above any
# model, and within the 64-bit integers JSON encoders and databases hold (a bigger one stored on a
# response made every later read of it fail).
MAX_TOKEN_COUNT = 2**31 - 1
# The one rule for a count of tokens a request asks for, whatever its dialect calls it: a JSON integer
# (strict: not 5.0, "5" nor true) from 1 to MAX_TOKEN_COUNT. The surfaces' error rendering says
# TOKEN_COUNT_RULE for any breach of it in a field of TOKEN_COUNT_FIELDS.
TokenCount = Annotated[int, Field(strict=True, ge=1, le=MAX_TOKEN_COUNT)]
TOKEN_COUNT_FIELDS = frozenset({"max_tokens", "max_completion_tokens", "max_output_tokens"})
TOKEN_COUNT_RULE = f"must be an integer from 1 to {MAX_TOKEN_COUNT}"


@dataclass(frozen=True, slots=True)
class UpstreamBounds:
    """`max_body_bytes`: a non-streamed answer, and a whole stream (decompressed bytes).
    `max_line_bytes`: one line of a stream. `stream_deadline_seconds`: a stream's whole life.
    `stream_max_chunks`: chunks relayed for a request that sets no max_tokens. A stream's idle timeout is
    its provider's `timeout`, counted between data events (comments such as `: keepalive` do not count)."""

    max_body_bytes: int = 64 * MIB
    max_line_bytes: int = 1 * MIB
    stream_deadline_seconds: float = 900.0
    stream_max_chunks: int = 100_000

    def chunk_cap(self, max_tokens: int | None, choices: int) -> int:
        """Most chunks a stream may carry: about one per token, plus a role and a finish chunk per
        choice and some slack for providers that split tokens; `max_tokens` counts all choices."""
        if max_tokens is None:
            return self.stream_max_chunks
        return 2 * max_tokens + 4 * choices + 16
