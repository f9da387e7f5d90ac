"""h2oGPTe collection chat settings and metadata (what `H2OGPTE.get_collection` reads besides the
collection itself)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Response
from pydantic import BaseModel, ConfigDict

from lockgate.api.deps import Caller, ChatCaller
from lockgate.api.h2ogpte.chat_views import keyed_collection
from lockgate.api.h2ogpte.common import from_public_id, h2ogpte_router
from lockgate.api.h2ogpte.library_views import LibraryDep

router = h2ogpte_router("collections")


class ChatSettingsIn(BaseModel):
    """What the client's ChatSettings carries; stored as given, read back by the client."""

    model_config = ConfigDict(extra="ignore")
    llm: str | None = None
    llm_args: dict[str, Any] | None = None
    self_reflection_config: dict[str, Any] | None = None
    rag_config: dict[str, Any] | None = None
    include_chat_history: str | None = None
    tags: Any = None


def _id(public: str) -> int:
    return from_public_id("collection", public)


@router.get("/collections/{collection_id}/chat_settings")
async def get_chat_settings(collection_id: str, caller: ChatCaller, library: LibraryDep) -> dict[str, Any]:
    return await library.chat_settings(caller, keyed_collection(caller, collection_id))


@router.put("/collections/{collection_id}/chat_settings", status_code=204)
async def put_chat_settings(
    collection_id: str,
    caller: Caller,
    library: LibraryDep,
    body: Annotated[ChatSettingsIn | None, Body()] = None,
) -> Response:
    values = body.model_dump(exclude_none=True) if body else {}
    await library.put_chat_settings(caller, _id(collection_id), values)
    return Response(status_code=204)


@router.get("/collections/{collection_id}/metadata")
async def get_metadata(collection_id: str, caller: ChatCaller, library: LibraryDep) -> dict[str, Any]:
    return await library.metadata(caller, keyed_collection(caller, collection_id))


@router.put("/collections/{collection_id}/metadata", status_code=204)
async def put_metadata(
    collection_id: str,
    caller: Caller,
    library: LibraryDep,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> Response:
    await library.put_metadata(caller, _id(collection_id), body or {})
    return Response(status_code=204)
