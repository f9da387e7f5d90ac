"""OpenAI's token-id forms of embeddings `input` on the local MiniLM embedder: ids of its own WordPiece
tokenizer embed as the text they spell; ids it cannot read are a 400 naming the input."""

from __future__ import annotations

import math
from importlib.resources import files

import pytest

EMBED = "all-minilm-l6-v2"


def _ids(text: str) -> list[int]:
    from tokenizers import Tokenizer

    path = files("lockgate.inference") / "assets" / "all-minilm-l6-v2.tokenizer.json"
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()  # the file pads to 128 with [PAD]: a client sends only the text's ids
    return tokenizer.encode(text, add_special_tokens=False).ids


def _embed(local, value) -> list[list[float]]:
    response = local.admin.post("/v1/embeddings", json={"model": EMBED, "input": value})
    assert response.status_code == 200, response.text
    return [item["embedding"] for item in response.json()["data"]]


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def test_token_ids_embed_as_the_text_they_spell(local) -> None:
    texts = ["The cat sat on the mat.", "Quarterly revenue grew by nine percent."]
    by_text = _embed(local, texts)
    (one,) = _embed(local, _ids(texts[0]))  # a list of ids: one input
    by_ids = _embed(local, [_ids(t) for t in texts])  # a list of lists: one input each
    assert _cosine(one, by_text[0]) > 0.999
    assert all(_cosine(a, b) > 0.999 for a, b in zip(by_ids, by_text, strict=True))
    assert _cosine(by_ids[0], by_text[1]) < 0.9  # and not every vector is the same


@pytest.mark.parametrize(
    ("value", "named", "status"),
    [
        ([30522], "input", 400),
        ([5, -1], "input", 400),
        ([[7592], [2, 99999]], "input.1", 400),
        ([[]], "input", 422),  # an empty list is refused by validation, as OpenGateLLM 0.4.1 does (422)
        ([1] * 300, "input", 400),
    ],
)
def test_token_ids_the_model_cannot_read_are_refused(local, value, named, status) -> None:
    response = local.admin.post("/v1/embeddings", json={"model": EMBED, "input": value})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == named or error["param"].startswith(named)
    assert local.admin.get("/health").status_code == 200
