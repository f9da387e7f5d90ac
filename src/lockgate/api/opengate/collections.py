"""/v1/collections."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from lockgate.api.deps import Caller, DbId, State, page_params
from lockgate.api.opengate.rag_schemas import CollectionCreate, CollectionOut, CollectionUpdate
from lockgate.api.opengate.schemas import CreatedId, ListOf
from lockgate.kit.pagination import Page
from lockgate.rag.schemas import CollectionChanges

router = APIRouter(prefix="/v1/collections", tags=["collections"])
Paging = Annotated[Page, Depends(page_params(("id", "name", "created", "updated"), "collections"))]


def _out(collection: Any, documents: int) -> CollectionOut:  # rag's collection (#20 item 1 reshapes it)
    return CollectionOut(
        id=collection.id,
        name=collection.name,
        owner=str(collection.owner_id),
        description=collection.description,
        visibility=collection.visibility,
        created=collection.created,
        updated=collection.updated,
        documents=documents,
        search=(collection.settings or {}).get("search") or {},
        dedup=bool((collection.settings or {}).get("dedup")),
    )


@router.post("", status_code=201, response_model=CreatedId)
async def create_collection(body: CollectionCreate, caller: Caller, state: State) -> CreatedId:
    return CreatedId(
        id=await state.rag.create_collection(
            caller,
            body.name,
            body.description,
            body.visibility,
            body.search.model_dump(exclude_none=True) if body.search else None,
            dedup=body.dedup,
        )
    )


@router.get("", response_model=ListOf[CollectionOut])
async def list_collections(
    caller: Caller,
    state: State,
    page: Paging,
    name: Annotated[str | None, Query(max_length=255)] = None,
    visibility: Annotated[Literal["private", "public"] | None, Query()] = None,
) -> ListOf[CollectionOut]:
    rows = await state.rag.list_collections(caller, page, name, visibility)
    return ListOf[CollectionOut](data=[_out(c, n) for c, n in rows])


@router.get("/{collection_id}", response_model=CollectionOut)
async def get_collection(collection_id: DbId, caller: Caller, state: State) -> CollectionOut:
    return _out(*await state.rag.get_collection(caller, collection_id))


@router.patch("/{collection_id}", status_code=204)
async def update_collection(
    collection_id: DbId, body: CollectionUpdate, caller: Caller, state: State
) -> Response:
    changes = CollectionChanges(
        name=body.name,
        description=body.description,
        visibility=body.visibility,
        search=body.search.model_dump(exclude_none=True) if body.search is not None else None,
        dedup=body.dedup,
    )
    await state.rag.update_collection(caller, collection_id, changes)
    return Response(status_code=204)


@router.delete("/{collection_id}", status_code=204)
async def delete_collection(collection_id: DbId, caller: Caller, state: State) -> Response:
    await state.rag.delete_collection(caller, collection_id, unowned_as_missing=True)
    return Response(status_code=204)
