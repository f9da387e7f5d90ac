"""PowerPoint, Excel, CSV, OpenDocument text, e-mail and EPUB files, made here with real libraries (or
as the standard's own zip layout), read into Markdown pages; zip-based ones refused when they are
decompression bombs; damaged ones refused with a 400 naming the file."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage

import pytest

from lockgate.errors import BadRequest
from lockgate.rag.parsing import UnsupportedType, kind_of, parse


def pptx_file() -> bytes:
    from pptx import Presentation

    presentation = Presentation()
    for title, body in (
        ("Orchard plan", "Prune the pear trees in February."),
        ("Harvest", "Pick in October."),
    ):
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def xlsx_file() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Yields"
    sheet.append(["fruit", "tonnes"])
    sheet.append(["quince", 12])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def odt_file(content_xml: str | None = None) -> bytes:
    body = (
        '<text:h text:outline-level="2">Soil care</text:h>'
        "<text:p>Mulch the beds<text:s/>in <text:span>autumn</text:span>.</text:p>"
        "<text:list><text:list-item><text:p>compost</text:p></text:list-item></text:list>"
        "<table:table><table:table-row><table:table-cell><text:p>bed</text:p></table:table-cell>"
        "<table:table-cell><text:p>crop</text:p></table:table-cell></table:table-row>"
        "<table:table-row><table:table-cell><text:p>B2</text:p></table:table-cell>"
        "<table:table-cell><text:p>leeks</text:p></table:table-cell></table:table-row></table:table>"
    )
    content = content_xml or (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" office:version="1.3">'
        f"<office:body><office:text>{body}</office:text></office:body></office:document-content>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
    return buffer.getvalue()


def epub_file() -> bytes:
    container = (
        '<?xml version="1.0"?><container version="1.0" '
        'xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>"
    )
    opf = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Bees</dc:title>'
        "<dc:creator>A. Keeper</dc:creator></metadata>"
        '<manifest><item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest>'
        '<spine><itemref idref="c1"/></spine></package>'
    )
    chapter = "<html><body><h1>Swarming</h1><p>Bees swarm in late spring.</p></body></html>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/container.xml", container)
        archive.writestr("OEBPS/content.opf", opf)
        archive.writestr("OEBPS/c1.xhtml", chapter)
    return buffer.getvalue()


def eml_file(html: bool = False) -> bytes:
    message = EmailMessage()
    message["Subject"] = "Frost warning"
    message["From"] = "grower@example.org"
    message["To"] = "team@example.org"
    if html:
        message.set_content("<h2>Tonight</h2><p>Cover the <b>seedlings</b>.</p>", subtype="html")
    else:
        message.set_content("Cover the seedlings tonight.")
    message.add_attachment(b"x", maintype="application", subtype="octet-stream", filename="map.bin")
    return message.as_bytes()


def test_pptx_slides_become_pages_with_their_titles() -> None:
    pages = parse("plan.pptx", None, pptx_file())
    assert [page.number for page in pages] == [1, 2]
    assert pages[0].text.startswith("# Orchard plan") and "pear trees" in pages[0].text
    assert "<!--" not in pages[0].text and "October" in pages[1].text


def test_xlsx_sheets_become_markdown_tables() -> None:
    text = parse("yields.xlsx", None, xlsx_file())[0].text
    assert "## Yields" in text and "| fruit | tonnes |" in text and "| quince | 12 |" in text


def test_csv_becomes_a_table_in_any_text_encoding() -> None:
    text = parse("t.csv", None, "variété,kg\npomme,3\n".encode("cp1252"))[0].text
    assert text.splitlines()[0] == "| variété | kg |" and "| pomme | 3 |" in text


def test_odt_headings_lists_and_tables() -> None:
    text = parse("soil.odt", None, odt_file())[0].text
    assert text.startswith("## Soil care")
    assert "Mulch the beds in autumn." in text and "- compost" in text
    assert "| bed | crop |\n| --- | --- |\n| B2 | leeks |" in text


@pytest.mark.parametrize("html", [False, True])
def test_eml_headers_body_and_attachment_names(html: bool) -> None:
    text = parse("frost.eml", None, eml_file(html))[0].text
    assert text.startswith("# Frost warning") and "From: grower@example.org" in text
    assert "seedlings" in text and "Attachments: map.bin" in text
    if html:
        assert "## Tonight" in text and "<p>" not in text


def test_epub_chapters_in_reading_order() -> None:
    text = parse("bees.epub", None, epub_file())[0].text
    assert "Bees" in text and "# Swarming" in text and "late spring" in text


def test_formats_are_known_by_media_type_without_a_suffix() -> None:
    mime = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    assert kind_of("upload", mime, b"PK") == "pptx"
    assert kind_of("upload", "message/rfc822", b"From:") == "eml"
    with pytest.raises(UnsupportedType):
        kind_of("archive.7z", None, b"7z")


def _bomb(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(name, "w") as part:
            for _ in range(100):
                part.write(b" " * (1024 * 1024))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("filename", "part"),
    [
        ("a.pptx", "ppt/slides/slide1.xml"),
        ("a.xlsx", "xl/worksheets/sheet1.xml"),
        ("a.odt", "content.xml"),
        ("a.epub", "OEBPS/c1.xhtml"),
    ],
)
def test_zip_bombs_are_refused_before_any_library_opens_them(filename: str, part: str) -> None:
    data = _bomb(part)
    assert len(data) < 1024 * 1024
    with pytest.raises(BadRequest) as refused:
        parse(filename, None, data)
    assert refused.value.param == "file" and "decompression bomb" in refused.value.message


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("a.pptx", b"PK\x03\x04 broken"),
        ("a.xlsx", b"not a zip at all"),
        ("a.epub", b"PK\x03\x04"),
        ("a.odt", b"PK\x03\x04"),
        ("b.odt", odt_file("<not-closed")),
        ("c.xlsx", odt_file()),  # a valid zip that is not a workbook
        ("d.epub", odt_file()),
        ("e.pptx", odt_file()),
    ],
)
def test_damaged_files_are_400_naming_the_file(filename: str, data: bytes) -> None:
    with pytest.raises(BadRequest) as refused:
        parse(filename, None, data)
    assert refused.value.param == "file"


def test_a_pptx_upload_is_searchable_and_cites_its_slide(local) -> None:
    from tests.rag.test_rag_api import collection, member

    alice = member(local)
    target = collection(alice)
    mime = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    created = alice.post(
        "/v1/documents",
        data={"collection_id": str(target)},
        files={"file": ("plan.pptx", pptx_file(), mime)},
    )
    assert created.status_code == 201, created.text
    chunks = alice.get(f"/v1/documents/{created.json()['id']}/chunks").json()["data"]
    assert len(chunks) == 2 and "pear trees" in chunks[0]["content"]
    hits = alice.post(
        "/v1/search",
        json={"query": "when to prune pear trees", "method": "lexical", "collection_ids": [target]},
    ).json()["data"]
    assert hits and "pear trees" in hits[0]["chunk"]["content"]
