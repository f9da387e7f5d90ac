"""The stop-sequence matcher of the local engine, on streamed pieces: a sequence split across pieces is
still found, the text before it is released whole, and nothing of the sequence leaks."""

from __future__ import annotations

import pytest

from lockgate.inference.stops import StopMatcher


def run(stops: list[str], pieces: list[str]) -> tuple[str, str | None]:
    matcher = StopMatcher(stops)
    out = ""
    for piece in pieces:
        out += matcher.feed(piece)
        if matcher.matched is not None:
            return out, matcher.matched
    return out + matcher.flush(), None


@pytest.mark.parametrize(
    ("stops", "pieces", "expected"),
    [
        (["END"], ["hello ", "E", "N", "D", " more"], ("hello ", "END")),
        (["END"], ["hello EN", "Dless"], ("hello ", "END")),
        (["END"], ["hello EN", "ough"], ("hello ENough", None)),  # a false start is released
        (["END"], ["ends with E"], ("ends with E", None)),  # held back, then flushed at the end
        (["b", "abc"], ["xxab", "c"], ("xxa", "b")),  # the earliest match wins
        (["abc", "bc"], ["xabc"], ("x", "abc")),  # both end here: the one that starts first
        (["", "\n\n"], ["a\n", "\nb"], ("a", "\n\n")),  # empty sequences are ignored
        ([], ["plain"], ("plain", None)),
    ],
)
def test_pieces_are_cut_at_the_first_stop_sequence(stops, pieces, expected) -> None:
    assert run(stops, pieces) == expected


def test_nothing_is_released_after_a_match() -> None:
    matcher = StopMatcher(["."])
    assert matcher.feed("One. Two") == "One"
    assert matcher.feed(" three") == "" and matcher.matched == "."
