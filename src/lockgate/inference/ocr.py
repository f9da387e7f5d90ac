"""OCR of images and PDF pages with RapidOCR (ONNX models inside the wheel); PDF pages are rendered with
pypdfium2, and pages that already carry text are read directly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lockgate.errors import BadRequest
from lockgate.inference.worker import EngineWorker

RENDER_SCALE = 2.0  # ~144 dpi: enough for OCR of body text
# Largest bitmap OCR reads (about 120 MB as RGB): larger images are refused, larger PDF pages rendered
# smaller. RapidOCR's time and memory grow with the pixels; decompression bombs declare billions.
MAX_PIXELS = 40_000_000


def _too_large() -> BadRequest:
    return BadRequest(f"document: image larger than {MAX_PIXELS:,} pixels.", param="document")


@dataclass(frozen=True, slots=True)
class OcrPage:
    index: int
    markdown: str
    width: int
    height: int
    dpi: int


class OcrEngine:
    def __init__(self, name: str):
        self.name = name
        self.worker = EngineWorker(name)
        self._ocr: Any = None  # a RapidOCR pipeline once loaded

    def load(self) -> None:
        import logging

        import numpy as np
        from rapidocr import RapidOCR

        self._ocr = RapidOCR()
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)  # it configures its own chatty logger
        self._ocr(np.full((32, 32, 3), 255, dtype=np.uint8))  # loads its sessions now, not on a request

    def _image_text(self, image: Any) -> str:
        result = self._ocr(image)
        lines = list(result.txts or ()) if result is not None else []
        return "\n".join(lines)

    def _image(self, data: bytes) -> list[OcrPage]:
        import numpy as np
        from PIL import Image, UnidentifiedImageError

        try:
            import io

            picture = Image.open(io.BytesIO(data))  # reads the header only
        except Image.DecompressionBombError as exc:
            raise _too_large() from exc
        except (UnidentifiedImageError, OSError) as exc:
            raise BadRequest("document: not a readable image.", param="document") from exc
        if picture.width * picture.height > MAX_PIXELS:  # a few KB of PNG can declare gigapixels
            raise _too_large()
        try:
            rgb = picture.convert("RGB")
        except OSError as exc:
            raise BadRequest("document: not a readable image.", param="document") from exc
        text = self._image_text(np.asarray(rgb)[:, :, ::-1])
        return [OcrPage(0, text, picture.width, picture.height, 72)]

    def _pdf(self, data: bytes, pages: list[int] | None, force_ocr: bool = True) -> list[OcrPage]:
        import numpy as np
        import pypdfium2 as pdfium

        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise BadRequest("document: not a readable PDF.", param="document") from exc
        try:
            wanted = pages if pages is not None else list(range(len(document)))
            result = []
            for index in wanted:
                if not 0 <= index < len(document):
                    raise BadRequest(f"pages: page {index} does not exist.", param="pages")
                page = document[index]
                width, height = int(page.get_width()), int(page.get_height())
                text = "" if force_ocr else page.get_textpage().get_text_range().strip()
                if not text:  # a page may declare any size: its bitmap stays within MAX_PIXELS
                    scale = min(RENDER_SCALE, (MAX_PIXELS / max(1.0, width * height)) ** 0.5)
                    bitmap = page.render(scale=scale).to_pil().convert("RGB")
                    text = self._image_text(np.asarray(bitmap)[:, :, ::-1])
                result.append(OcrPage(index, text, width, height, int(72 * RENDER_SCALE)))
            return result
        finally:
            document.close()

    async def recognize(
        self, data: bytes, pages: list[int] | None = None, force_ocr: bool = True
    ) -> list[OcrPage]:
        """Text of an image, or of a PDF's pages (OCR of the rendered page unless force_ocr is False
        and the page has a text layer)."""
        async with self.worker.lock:
            if data[:5] == b"%PDF-":
                return await self.worker.run(self._pdf, data, pages, force_ocr)
            return await self.worker.run(self._image, data)

    def close(self) -> None:
        self.worker.close()
