"""Archive-based documents are checked before parsing: a decompression bomb is refused (400) without
being inflated, a real document still parses."""

from __future__ import annotations

import io
import zipfile

import pytest

from lockgate.errors import BadRequest
from lockgate.rag.parsing import parse


def _bomb(inflated_mib: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as part:  # streamed: never held whole here either
            for _ in range(inflated_mib):
                part.write(b"<w:p/>" * (1024 * 1024 // 6))
    return buffer.getvalue()


def test_a_docx_bomb_is_refused_before_parsing() -> None:
    data = _bomb(100)
    assert len(data) < 1024 * 1024  # a small upload
    with pytest.raises(BadRequest) as refused:
        parse("report.docx", None, data)
    assert refused.value.param == "file"
    assert "decompression bomb" in refused.value.message


def test_a_highly_compressible_but_small_docx_is_not_a_bomb_by_ratio_alone() -> None:
    with pytest.raises(BadRequest) as refused:
        parse("tiny.docx", None, _bomb(0))  # inflates to almost nothing: fails later, as unreadable
    assert "decompression bomb" not in refused.value.message


def test_a_real_docx_still_parses() -> None:
    from docx import Document

    document = Document()
    document.add_heading("Title", level=1)
    document.add_paragraph("Some words.")
    buffer = io.BytesIO()
    document.save(buffer)
    pages = parse("notes.docx", None, buffer.getvalue())
    assert pages[0].text == "# Title\n\nSome words."


def test_a_broken_archive_is_400() -> None:
    with pytest.raises(BadRequest):
        parse("broken.docx", None, b"PK\x03\x04 not really a zip")
