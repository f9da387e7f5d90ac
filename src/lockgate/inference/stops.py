"""Stop sequences matched on the generated text as it streams, so that the engine can say which one
stopped it (llama.cpp reports "stop" alike for a stop sequence and for the end of the turn)."""

from __future__ import annotations


class StopMatcher:
    """Cuts streamed text at the earliest of several stop sequences (the sequence excluded, as OpenAI
    does). Text that could still be the start of one is held back until the next piece decides."""

    def __init__(self, stops: list[str]):
        self.stops = [s for s in stops if s]
        self.matched: str | None = None
        self._held = ""

    def feed(self, piece: str) -> str:
        """The text of `piece` (with what was held back) that can be released now. After a match,
        `matched` is the sequence and nothing more is released."""
        if self.matched is not None:
            return ""
        text = self._held + piece
        found = [(text.find(s), n, s) for n, s in enumerate(self.stops) if s in text]
        if found:
            at, _, self.matched = min(found)  # earliest; on a tie, the first listed
            self._held = ""
            return text[:at]
        keep = max((_overlap(text, s) for s in self.stops), default=0)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """What is still held back, once the generation ended without a match."""
        held, self._held = self._held, ""
        return held


def _overlap(text: str, stop: str) -> int:
    """The length of the longest end of `text` that is a proper start of `stop`."""
    for size in range(min(len(text), len(stop) - 1), 0, -1):
        if text.endswith(stop[:size]):
            return size
    return 0
