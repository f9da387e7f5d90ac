"""h2oGPTe /documents: list, count, get, rename, delete, the collections holding a document, and tags on
documents. Chats that used a document live with the chat routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response

from lockgate.api.deps import Caller, ChatCaller
from lockgate.api.h2ogpte.common import h2ogpte_router, to_public_id
from lockgate.api.h2ogpte.library_views import (
    DocumentUpdate,
    LibraryDep,
    Limit,
    Offset,
    TagCreate,
    collection_out,
    document_id,
    document_out,
    paging,
    tag_out,
)

router = h2ogpte_router("documents")
COLUMNS = {
    "name": "name",
    "created_at": "created",
    "updated_at": "updated",
    "size": "size",
    "page_count": "pages",
    "id": "id",
}


@router.get("/documents")
async def list_documents(
    caller: Caller,
    library: LibraryDep,
    offset: Offset = None,
    limit: Limit = None,
    sort_column: Annotated[str | None, Query()] = None,
    ascending: Annotated[bool | None, Query()] = None,
    with_summaries: Annotated[bool | None, Query()] = None,
) -> list[dict[str, Any]]:
    page = paging(offset, limit, sort_column, ascending, COLUMNS)
    return [document_out(d) for d in await library.documents(caller, page, None)]


@router.get("/documents/count")
async def count_documents(
    caller: Caller, library: LibraryDep, owned: Annotated[bool | None, Query()] = None
) -> dict[str, int]:
    return {"count": await library.count_documents(caller, None, bool(owned))}


@router.get("/documents/{document_id}")
async def get_document(document_id: str, caller: ChatCaller, library: LibraryDep) -> dict[str, Any]:
    return document_out(await library.document(caller, _doc(document_id)))


@router.patch("/documents/{document_id}")
async def update_document(
    document_id: str, body: DocumentUpdate, caller: Caller, library: LibraryDep
) -> dict[str, Any]:
    return document_out(await library.update_document(caller, _doc(document_id), body.name, body.uri))


@router.delete("/documents/{document_id}", status_code=204)
async def delete_document(document_id: str, caller: Caller, library: LibraryDep) -> Response:
    await library.delete_document(caller, _doc(document_id))
    return Response(status_code=204)


@router.get("/documents/{document_id}/collections")
async def list_collections(
    document_id: str, caller: Caller, library: LibraryDep, offset: Offset = None, limit: Limit = None
) -> list[dict[str, Any]]:
    page = paging(offset, limit, None, None, {"updated_at": "updated"})
    rows = await library.collections_of(caller, _doc(document_id), page.offset, page.limit)
    return [collection_out(r) for r in rows]


@router.post("/documents/{document_id}/tags", status_code=201)
async def tag_document(
    document_id: str, body: TagCreate, caller: Caller, library: LibraryDep
) -> dict[str, Any]:
    return tag_out(await library.tag_document(caller, _doc(document_id), body.name))


@router.delete("/documents/{document_id}/tags/{tag_name}")
async def untag_document(
    document_id: str, tag_name: str, caller: Caller, library: LibraryDep
) -> dict[str, str]:
    tag = await library.untag_document(caller, _doc(document_id), tag_name)
    return {"tag_id": to_public_id("tag", tag.id)}


def _doc(public: str) -> int:
    return document_id(public)
