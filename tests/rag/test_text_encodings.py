"""Text uploads: UTF-8 first, then the detected encoding; a clear 400 when no encoding reads them."""

from __future__ import annotations

import pytest

from lockgate.errors import BadRequest
from lockgate.rag.parsing import parse

SAMPLES = [
    ("Café crème brûlée, déjà vu à Noël. Ça coûte cher.", "latin-1"),
    ("Grüße aus München, schöne Straße.", "cp1252"),
    ("Привет, как дела? Это тест кодировки.", "cp1251"),
    ("Hello wörld, UTF-16 with its byte order mark.", "utf-16"),
    ("Plain UTF-8 with a BOM: ünïcödé.", "utf-8-sig"),
]


@pytest.mark.parametrize(("text", "encoding"), SAMPLES)
def test_text_files_are_read_in_their_encoding(text: str, encoding: str) -> None:
    for name in ("notes.txt", "notes.md"):
        assert parse(name, None, text.encode(encoding))[0].text == text


def test_bytes_no_encoding_reads_are_a_400_naming_the_file() -> None:
    with pytest.raises(BadRequest) as refused:
        parse("blob.txt", None, bytes(range(256)) * 8)
    assert refused.value.param == "file" and "UTF-8" in refused.value.message
