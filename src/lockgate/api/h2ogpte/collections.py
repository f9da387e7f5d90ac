"""h2oGPTe /collections: CRUD, count, settings, documents of a collection (list, count, import, remove),
suggested questions and sharing. Chats and prompt templates of a collection live in their own modules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Query, Response

from lockgate.api.deps import Caller, ChatCaller
from lockgate.api.h2ogpte.chat_views import keyed_collection
from lockgate.api.h2ogpte.common import h2ogpte_router
from lockgate.api.h2ogpte.library_views import (
    CollectionCreate,
    CollectionSettingsIn,
    CollectionUpdate,
    LibraryDep,
    Limit,
    Offset,
    ShareRequest,
    collection_id,
    collection_out,
    document_id,
    document_out,
    paging,
    settings_out,
)

router = h2ogpte_router("collections")
COLUMNS = {"name": "name", "created_at": "created", "updated_at": "updated", "id": "id"}
DOCUMENT_COLUMNS = {
    "name": "name",
    "created_at": "created",
    "updated_at": "updated",
    "size": "size",
    "page_count": "pages",
    "id": "id",
}


@router.post("/collections", status_code=201)
async def create_collection(body: CollectionCreate, caller: Caller, library: LibraryDep) -> dict[str, Any]:
    settings = body.collection_settings.model_dump(exclude_none=True) if body.collection_settings else {}
    return collection_out(await library.create(caller, body.name, body.description, settings))


@router.get("/collections")
async def list_collections(
    caller: Caller,
    library: LibraryDep,
    offset: Offset = None,
    limit: Limit = None,
    sort_column: Annotated[str | None, Query()] = None,
    ascending: Annotated[bool | None, Query()] = None,
    name_filter: Annotated[str | None, Query(max_length=255)] = None,
    current_user_only: Annotated[bool | None, Query()] = None,
) -> list[dict[str, Any]]:
    page = paging(offset, limit, sort_column, ascending, COLUMNS)
    rows = await library.list(caller, page, name_filter, bool(current_user_only))
    return [collection_out(r) for r in rows]


@router.get("/collections/count")
async def count_collections(caller: Caller, library: LibraryDep) -> dict[str, int]:
    return {"count": await library.count(caller)}


@router.get("/collections/{collection_id}")
async def get_collection(collection_id: str, caller: ChatCaller, library: LibraryDep) -> dict[str, Any]:
    """Also for a collection key (its own collection, or `default`)."""
    return collection_out(await library.info(caller, keyed_collection(caller, collection_id)))


@router.patch("/collections/{collection_id}")
async def update_collection(
    collection_id: str, body: CollectionUpdate, caller: Caller, library: LibraryDep
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    return collection_out(await library.update(caller, _id(collection_id), changes))


@router.delete("/collections/{collection_id}", status_code=204)
async def delete_collection(collection_id: str, caller: Caller, library: LibraryDep) -> Response:
    await library.delete_collection(caller, _id(collection_id))
    return Response(status_code=204)


@router.get("/collections/{collection_id}/settings")
async def get_settings(collection_id: str, caller: ChatCaller, library: LibraryDep) -> dict[str, Any]:
    return settings_out(await library.settings(caller, keyed_collection(caller, collection_id)))


@router.put("/collections/{collection_id}/settings", status_code=204)
async def put_settings(
    collection_id: str,
    caller: Caller,
    library: LibraryDep,
    body: Annotated[CollectionSettingsIn | None, Body()] = None,
) -> Response:
    settings = body.model_dump(exclude_none=True) if body else {}
    await library.put_settings(caller, _id(collection_id), settings)
    return Response(status_code=204)


@router.get("/collections/{collection_id}/documents")
async def list_documents(
    collection_id: str,
    caller: ChatCaller,
    library: LibraryDep,
    offset: Offset = None,
    limit: Limit = None,
    sort_column: Annotated[str | None, Query()] = None,
    ascending: Annotated[bool | None, Query()] = None,
) -> list[dict[str, Any]]:
    page = paging(offset, limit, sort_column, ascending, DOCUMENT_COLUMNS)
    found = await library.documents(caller, page, keyed_collection(caller, collection_id))
    return [document_out(d) for d in found]


@router.get("/collections/{collection_id}/documents/count")
async def count_documents(collection_id: str, caller: ChatCaller, library: LibraryDep) -> dict[str, int]:
    return {"count": await library.count_documents(caller, keyed_collection(caller, collection_id))}


@router.put("/collections/{collection_id}/documents/{document_id}", status_code=204)
async def import_document(
    collection_id: str, document_id: str, caller: Caller, library: LibraryDep
) -> Response:
    await library.import_document(caller, _id(collection_id), _doc(document_id))
    return Response(status_code=204)


@router.delete("/collections/{collection_id}/documents/{document_id}", status_code=204)
async def remove_document(
    collection_id: str, document_id: str, caller: Caller, library: LibraryDep
) -> Response:
    await library.remove_document(caller, _id(collection_id), _doc(document_id))
    return Response(status_code=204)


@router.get("/collections/{collection_id}/questions")
async def list_questions(
    collection_id: str,
    caller: Caller,
    library: LibraryDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> list[dict[str, str]]:
    return [{"question": q} for q in await library.questions(caller, _id(collection_id), limit)]


@router.get("/collections/{collection_id}/permissions")
async def list_permissions(collection_id: str, caller: Caller, library: LibraryDep) -> list[dict[str, Any]]:
    usernames = await library.permissions(caller, _id(collection_id))
    return [{"username": u, "permissions": ["owner" if i == 0 else "read"]} for i, u in enumerate(usernames)]


@router.delete("/collections/{collection_id}/permissions", status_code=204)
async def unshare_all(collection_id: str, caller: Caller, library: LibraryDep) -> Response:
    await library.unshare(caller, _id(collection_id), None)
    return Response(status_code=204)


@router.put("/collections/{collection_id}/permissions/{username}", status_code=204)
async def share(
    collection_id: str,
    username: str,
    caller: Caller,
    library: LibraryDep,
    body: Annotated[ShareRequest | None, Body()] = None,
) -> Response:
    await library.share(caller, _id(collection_id), username)
    return Response(status_code=204)


@router.delete("/collections/{collection_id}/permissions/{username}", status_code=204)
async def unshare(collection_id: str, username: str, caller: Caller, library: LibraryDep) -> Response:
    await library.unshare(caller, _id(collection_id), username)
    return Response(status_code=204)


def _id(public: str) -> int:
    return collection_id(public)


def _doc(public: str) -> int:
    return document_id(public)
