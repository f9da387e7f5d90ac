"""POST /v1/parse-beta: a file's pages as Markdown/text (OCR where a page has no text, or always)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile

from lockgate.api.deps import Caller, State
from lockgate.api.disconnect import unless_client_leaves
from lockgate.api.uploads import read_upload
from lockgate.rag.parsing import page_range

router = APIRouter(tags=["documents"])


@router.post("/v1/parse-beta")
async def parse_beta(
    caller: Caller,
    state: State,
    request: Request,
    file: Annotated[UploadFile, File()],
    page_range_: Annotated[str, Form(alias="page_range")] = "",
    force_ocr: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    data = await read_upload(file, state.settings.max_upload_bytes)
    name = file.filename or "document"
    pages = await unless_client_leaves(
        request,
        state.ingestion.parse_pages(name, file.content_type, data, page_range(page_range_), force_ocr),
    )
    return {
        "object": "list",
        "data": [
            {
                "object": "documentPage",
                "content": page.text,
                "images": {},
                "metadata": {"document_name": name, "page": (page.number - 1) if page.number else 0},
            }
            for page in pages
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }
