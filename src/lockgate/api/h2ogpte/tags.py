"""h2oGPTe /tags: each user's own tags, and the documents of a collection carrying some of them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from lockgate.api.deps import Caller
from lockgate.api.h2ogpte.common import h2ogpte_router
from lockgate.api.h2ogpte.library_views import (
    LibraryDep,
    TagCreate,
    TagUpdate,
    collection_id,
    document_out,
    tag_out,
)

router = h2ogpte_router("tags")


@router.post("/tags", status_code=201)
async def create_tag(body: TagCreate, caller: Caller, library: LibraryDep) -> dict[str, Any]:
    return tag_out(await library.create_tag(caller, body.name))


@router.get("/tags")
async def list_tags(
    caller: Caller,
    library: LibraryDep,
    linked_only: Annotated[bool | None, Query()] = None,
    user_scope: Annotated[bool | None, Query()] = None,
) -> list[dict[str, Any]]:
    return [tag_out(t) for t in await library.tags(caller, bool(linked_only))]


@router.get("/tags/{tag_name}")
async def get_tag(tag_name: str, caller: Caller, library: LibraryDep) -> dict[str, Any]:
    return tag_out(await library.tag(caller, tag_name))


@router.patch("/tags/{tag_name}")
async def update_tag(tag_name: str, body: TagUpdate, caller: Caller, library: LibraryDep) -> dict[str, Any]:
    return tag_out(await library.update_tag(caller, tag_name, body.model_dump(exclude_unset=True)))


@router.get("/tags/{tag_names}/documents")
async def list_documents_for_tags(
    tag_names: str,
    caller: Caller,
    library: LibraryDep,
    collection_id_: Annotated[str, Query(alias="collection_id")],
) -> list[dict[str, Any]]:
    names = [n for n in tag_names.split(",") if n]
    rows = await library.tagged(caller, names, collection_id(collection_id_))
    return [document_out(d) for d in rows]
