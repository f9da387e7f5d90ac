"""Office, spreadsheet, e-book and mail files → Markdown. PowerPoint, Excel, CSV and EPUB go through
markitdown's converters (ADR 0016); OpenDocument text and RFC 822 mail are read here with defusedxml
and the standard library (markitdown reads neither). Zip-based files are checked against decompression
bombs first (`check_archive`). Blocking: run in a thread or a worker process."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from lockgate.errors import BadRequest

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

_SLIDE = re.compile(r"^<!-- Slide number: (\d+) -->$", re.MULTILINE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _markitdown(
    converter_name: str, data: bytes, extension: str, label: str, charset: str | None = None
) -> str:
    import markitdown.converters as converters
    from markitdown import StreamInfo

    converter = getattr(converters, converter_name)()
    try:
        result = converter.convert(io.BytesIO(data), StreamInfo(extension=extension, charset=charset))
    except BadRequest:
        raise
    except Exception as exc:  # the libraries below raise many kinds on a damaged file: the file's fault
        raise BadRequest(f"file: not a readable {label} document.", param="file") from exc
    return str(result.markdown).strip()  # markitdown ships no types


def pptx_slides(data: bytes) -> list[tuple[int, str]]:
    """(slide number from 1, Markdown) per slide that has text."""
    markdown = _markitdown("PptxConverter", data, ".pptx", "PowerPoint (.pptx)")
    parts = _SLIDE.split(markdown)  # ["before", "1", "text", "2", "text", ...]
    slides = []
    for number, text in zip(parts[1::2], parts[2::2], strict=True):
        text = _COMMENT.sub("", text).strip()
        if text:
            slides.append((int(number), text))
    return slides


def xlsx(data: bytes) -> str:
    """Each sheet as a `## name` heading and a Markdown table."""
    return _markitdown("XlsxConverter", data, ".xlsx", "Excel (.xlsx)")


def csv(text: str) -> str:
    """The rows as one Markdown table (first row as header)."""
    return _markitdown("CsvConverter", text.encode(), ".csv", "CSV", charset="utf-8")


def epub(data: bytes) -> str:
    """Metadata (title, authors...) then each chapter in reading order, as Markdown."""
    return _markitdown("EpubConverter", data, ".epub", "EPUB")


def eml(data: bytes, html_to_markdown: Callable[[str], str]) -> str:
    """A mail: subject as title, sender, recipients and date, then its text body (or its HTML body as
    Markdown); attachments are named, not read."""
    from email import policy
    from email.message import EmailMessage
    from email.parser import BytesParser

    try:
        message = BytesParser(policy=policy.default).parsebytes(data)
        assert isinstance(message, EmailMessage)
        lines = [f"# {message['subject']}"] if message["subject"] else []
        for header in ("from", "to", "cc", "date"):
            if message[header]:
                lines.append(f"{header.capitalize()}: {message[header]}")
        body = message.get_body(preferencelist=("plain", "html"))
        if body is not None:
            content = str(body.get_content()).strip()
            if body.get_content_subtype() == "html":
                content = html_to_markdown(content)
            lines.append("")
            lines.append(content)
        attached = [name for part in message.iter_attachments() if (name := part.get_filename())]
    except (LookupError, ValueError, TypeError, AssertionError) as exc:  # unknown charset, broken headers
        raise BadRequest("file: not a readable e-mail (.eml).", param="file") from exc
    if attached:
        lines += ["", "Attachments: " + ", ".join(attached)]
    if not any(line.strip() for line in lines):
        raise BadRequest("file: not a readable e-mail (.eml): no headers and no body.", param="file")
    return "\n".join(lines).strip()


_ODF = {
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
}


def _tag(prefix: str, name: str) -> str:
    return f"{{{_ODF[prefix]}}}{name}"


def _odf_text(element: Element) -> str:
    """An element's text, with ODF's spaces, tabs and line breaks spelt out."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == _tag("text", "s"):
            parts.append(" " * int(child.get(_tag("text", "c"), "1") or 1))
        elif child.tag == _tag("text", "tab"):
            parts.append("\t")
        elif child.tag == _tag("text", "line-break"):
            parts.append("\n")
        else:
            parts.append(_odf_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _odf_blocks(element: Element, out: list[str], bullet: str = "") -> None:
    for child in element:
        if child.tag == _tag("text", "h"):
            level = min(6, max(1, int(child.get(_tag("text", "outline-level"), "1") or 1)))
            text = _odf_text(child).strip()
            if text:
                out.append(f"{'#' * level} {text}")
        elif child.tag == _tag("text", "p"):
            text = _odf_text(child).strip()
            if text:
                out.append(f"{bullet}{text}")
        elif child.tag == _tag("text", "list"):
            for item in child:
                _odf_blocks(item, out, bullet="- ")
        elif child.tag == _tag("table", "table"):
            rows = [
                [
                    _odf_text(cell).strip().replace("|", "\\|")
                    for cell in row
                    if cell.tag.endswith("table-cell")
                ]
                for row in child.iter(_tag("table", "table-row"))
            ]
            rows = [row for row in rows if any(row)]
            if rows:
                width = max(len(row) for row in rows)
                rows = [row + [""] * (width - len(row)) for row in rows]
                table = [rows[0], ["---"] * width, *rows[1:]]
                out.append("\n".join("| " + " | ".join(row) + " |" for row in table))
        else:  # sections, frames and other containers hold more blocks
            _odf_blocks(child, out, bullet)


def odt(data: bytes) -> str:
    """An OpenDocument text: headings as Markdown headings, paragraphs, lists and tables, in order."""
    import zipfile

    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open("content.xml") as content:
            root = ElementTree.parse(content).getroot()
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError, DefusedXmlException) as exc:
        raise BadRequest("file: not a readable OpenDocument text (.odt).", param="file") from exc
    body = root.find(f"{_tag('office', 'body')}/{_tag('office', 'text')}")
    blocks: list[str] = []
    if body is not None:
        _odf_blocks(body, blocks)
    return "\n\n".join(blocks)
