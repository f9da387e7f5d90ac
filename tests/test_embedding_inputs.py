"""Embedding inputs on engines that read text: empty input and token ids are 400s saying which."""

from __future__ import annotations

import pytest

from lockgate.errors import BadRequest
from lockgate.kit.vectors import text_inputs


@pytest.mark.parametrize("value", ["", [], ["a", ""]])
def test_empty_input_says_it_is_empty(value) -> None:
    with pytest.raises(BadRequest) as refused:
        text_inputs(value)
    assert refused.value.param == "input" and "empty" in refused.value.message


@pytest.mark.parametrize("value", [[1, 2, 3], [[1, 2], [3]]])
def test_token_ids_are_refused_with_the_reason(value) -> None:
    with pytest.raises(BadRequest) as refused:
        text_inputs(value)
    assert "token ids" in refused.value.message


def test_texts_pass() -> None:
    assert text_inputs("a") == ["a"] and text_inputs(["a", "b"]) == ["a", "b"]
