"""Files → text pages. PDF (text layer; a page without one comes back blank, for the caller to OCR),
DOCX, HTML → Markdown, Markdown, plain text, JSON, and through `converters`: PowerPoint (a page per
slide), Excel, CSV, OpenDocument text, e-mail, EPUB. Blocking: run it in a thread or a worker process."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from lockgate.errors import AppError, BadRequest


def page_range(spec: str) -> set[int] | None:
    """'0,5-10,20' → {0, 5, ..., 10, 20}; '' → every page."""
    if not spec.strip():
        return None
    pages: set[int] = set()
    try:
        for part in spec.split(","):
            start, _, end = part.strip().partition("-")
            first, last = int(start), int(end or start)
            if first < 0 or last < first or last - first > 10_000:
                raise ValueError
            pages.update(range(first, last + 1))
    except ValueError as exc:
        raise BadRequest(
            "page_range: use page numbers and ranges such as '0,5-10,20'.", param="page_range"
        ) from exc
    return pages


class UnsupportedType(AppError):
    status_code = 415
    code = "unsupported_media_type"


@dataclass(frozen=True, slots=True)
class Page:
    text: str
    number: int | None = None  # 1-based page number, for PDFs


KINDS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".json": "json",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".csv": "csv",
    ".odt": "odt",
    ".eml": "eml",
    ".epub": "epub",
}
# Zip-based formats: checked against decompression bombs before any library opens them.
ARCHIVES = {"docx", "pptx", "xlsx", "odt", "epub"}
SUPPORTED = ", ".join(sorted(KINDS))


def kind_of(filename: str, content_type: str | None, data: bytes) -> str:
    if data[:5] == b"%PDF-":
        return "pdf"
    suffix = PurePath(filename or "").suffix.lower()
    if suffix in KINDS:
        return KINDS[suffix]
    if suffix:  # a named type we do not read, whatever the client claims it is
        raise UnsupportedType(f"file: unsupported type '{suffix}'; supported: {SUPPORTED}.")
    mime = (content_type or "").split(";")[0].strip()
    by_mime = {
        "application/pdf": "pdf",
        "text/html": "html",
        "text/markdown": "markdown",
        "text/plain": "text",
        "application/json": "json",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
        "text/csv": "csv",
        "application/vnd.oasis.opendocument.text": "odt",
        "message/rfc822": "eml",
        "application/epub+zip": "epub",
    }
    if mime in by_mime:
        return by_mime[mime]
    raise UnsupportedType(f"file: unsupported type '{suffix or mime or 'unknown'}'; supported: {SUPPORTED}.")


def _text(data: bytes) -> str:
    """Text files: UTF-8 (with or without BOM), else the encoding charset-normalizer detects (Latin-1,
    Windows-1252, UTF-16...); 400 when no encoding reads it as text."""
    try:
        return data.decode("utf-8-sig").replace("\x00", "")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise BadRequest(
            "file: not text in UTF-8 nor in any encoding that could be detected; save it as UTF-8.",
            param="file",
        )
    # Short Western texts fit several code pages equally well: prefer Windows-1252 (Latin-1's superset,
    # the most common one) among the equally good readings, as browsers do.
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    if any("cp1252" in (m.encoding, *m.could_be_from_charset) for m in tied):
        return data.decode("cp1252", errors="replace").replace("\x00", "")
    return str(best).replace("\x00", "")


def parse(
    filename: str,
    content_type: str | None,
    data: bytes,
    force_ocr: bool = False,
    pages: set[int] | None = None,
) -> list[Page]:
    """The text of a file, page by page. A PDF page without a text layer comes back blank (every page,
    with `force_ocr`): the OCR engine reads it outside the parse worker (`render_pages`); `pages`
    (0-based) restricts a PDF to some pages. 400 (param `file`) for a file that cannot be read, nested
    too deeply included."""
    try:
        return _parse(filename, content_type, data, force_ocr, pages)
    except RecursionError:  # the JSON decoder and the HTML converter recurse once per nesting level
        raise BadRequest("file: nested too deeply to be read.", param="file") from None


def _parse(
    filename: str,
    content_type: str | None,
    data: bytes,
    force_ocr: bool,
    pages: set[int] | None,
) -> list[Page]:
    kind = kind_of(filename, content_type, data)
    if kind in ARCHIVES:
        check_archive(data)
    if kind in {"text", "markdown"}:
        return [Page(_text(data))]
    if kind == "json":
        try:
            return [Page(json.dumps(json.loads(_text(data)), indent=2, ensure_ascii=False))]
        except json.JSONDecodeError as exc:
            raise BadRequest(f"file: invalid JSON ({exc.msg}, line {exc.lineno}).", param="file") from exc
    if kind == "html":
        return [Page(_html(_text(data)))]
    if kind == "docx":
        return [Page(_docx(data))]
    if kind == "pdf":
        return _pdf(data, force_ocr, pages)
    from lockgate.rag import converters

    if kind == "pptx":
        return [Page(text, number) for number, text in converters.pptx_slides(data)]
    if kind == "csv":
        return [Page(converters.csv(_text(data)))]
    if kind == "eml":
        return [Page(converters.eml(data, _html))]
    read: dict[str, Callable[[bytes], str]] = {
        "xlsx": converters.xlsx,
        "odt": converters.odt,
        "epub": converters.epub,
    }
    return [Page(read[kind](data))]


def _html(text: str) -> str:
    from markdownify import markdownify

    return markdownify(text, heading_style="ATX").strip()


# Archive-based documents (docx, pptx, xlsx, odt, epub) are checked before parsing: a small file may
# inflate to gigabytes.
MAX_EXPANDED_BYTES = 64 * 1024 * 1024
MAX_EXPANSION_RATIO = 100  # past this, only when the archive inflates beyond 1 MiB
MAX_ARCHIVE_ENTRIES = 10_000


def check_archive(data: bytes) -> None:
    """Refuse (400) a zip archive whose declared contents are too large, too many or inflate too much.
    Reading is bounded by the declared sizes (zipfile stops at them), so checking them suffices."""
    import io
    import zipfile

    try:
        entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise BadRequest("file: not a readable document archive.", param="file") from exc
    expanded = sum(entry.file_size for entry in entries)
    if len(entries) > MAX_ARCHIVE_ENTRIES:
        raise BadRequest(f"file: the archive holds more than {MAX_ARCHIVE_ENTRIES} parts.", param="file")
    if expanded > MAX_EXPANDED_BYTES or (
        expanded > 1024 * 1024 and expanded > MAX_EXPANSION_RATIO * max(1, len(data))
    ):
        raise BadRequest(
            f"file: expands to {expanded} bytes from {len(data)} (more than {MAX_EXPANDED_BYTES} bytes or "
            f"{MAX_EXPANSION_RATIO} times its size): refused as a likely decompression bomb.",
            param="file",
        )


def _docx(data: bytes) -> str:
    import io

    from docx import Document

    try:
        document = Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds (AttributeError on a bare zip): the file's fault
        raise BadRequest("file: not a readable DOCX document.", param="file") from exc
    lines = []
    for paragraph in document.paragraphs:
        style = (paragraph.style.name or "").lower() if paragraph.style is not None else ""
        text = paragraph.text.strip()
        if not text:
            continue
        if style.startswith("heading"):
            level = "".join(ch for ch in style if ch.isdigit()) or "1"
            lines.append(f"{'#' * int(level)} {text}")
        else:
            lines.append(text)
    return "\n\n".join(lines)


def _pdf(data: bytes, force_ocr: bool = False, wanted: set[int] | None = None) -> list[Page]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise BadRequest("file: not a readable PDF.", param="file") from exc
    pages = []
    try:
        for index in range(len(document)):
            if wanted is not None and index not in wanted:
                continue
            page = document[index]
            text = "" if force_ocr else page.get_textpage().get_text_range().strip()
            pages.append(Page(text, index + 1))
    finally:
        document.close()
    return pages


def render_pages(data: bytes, numbers: list[int]) -> list[bytes]:
    """PNG images of a PDF's pages `numbers` (1-based), for the OCR engine: rendering is work a hostile
    PDF can make endless, so it runs in a parse worker like the rest of the reading."""
    import io

    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    images = []
    try:
        for number in numbers:
            buffer = io.BytesIO()
            document[number - 1].render(scale=2.0).to_pil().save(buffer, format="PNG")
            images.append(buffer.getvalue())
    finally:
        document.close()
    return images
