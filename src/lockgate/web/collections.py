"""Collections: list, create, share, delete; documents (multi-file upload, one request per file so each
has its own progress and status), the chunk viewer. Access is the RAG service's rule throughout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from starlette.responses import HTMLResponse, Response

from lockgate.accounting.service import CallContext
from lockgate.api.deps import DbId, State
from lockgate.api.disconnect import unless_client_leaves
from lockgate.api.uploads import read_upload
from lockgate.identity.schemas import Permission
from lockgate.kit.pagination import Page
from lockgate.rag.chunking import ChunkingOptions
from lockgate.web.render import ConsoleRoute, page, redirect
from lockgate.web.session import Viewer

router = APIRouter(route_class=ConsoleRoute)
ALL = Page(offset=0, limit=100, order_by="name")
NEWEST = Page(offset=0, limit=100, order_by="created", order_direction="desc")
CHUNKS_PER_PAGE = 50


@router.get("/ui/collections")
async def collections(request: Request, principal: Viewer, state: State) -> Response:
    rows = await state.rag.list_collections(principal, ALL)
    can_publish = principal.has(Permission.CREATE_PUBLIC_COLLECTION)
    return page(request, "collections.html", collections=rows, can_publish=can_publish)


@router.post("/ui/collections")
async def create_collection(
    request: Request,
    principal: Viewer,
    state: State,
    name: Annotated[str, Form(min_length=1, max_length=255)],
    description: Annotated[str, Form(max_length=4096)] = "",
    visibility: Annotated[str, Form(pattern="^(private|public)$")] = "private",
) -> Response:
    """Public (readable by everyone) needs the create_public_collection permission: 403 otherwise."""
    collection_id = await state.rag.create_collection(principal, name, description or None, visibility)
    return redirect(request, f"/ui/collections/{collection_id}")


@router.get("/ui/collections/{collection_id}")
async def collection(request: Request, collection_id: DbId, principal: Viewer, state: State) -> Response:
    row, documents = await state.rag.get_collection(principal, collection_id)
    mine = row.owner_id == principal.user_id
    return page(
        request,
        "collection.html",
        collection=row,
        document_count=documents,
        # rendered in the page, not lazily loaded: a lazy list still loading when an upload finished
        # missed the "uploaded" refresh and never showed the new documents
        documents=await state.rag.list_documents(principal, NEWEST, collection_id, None),
        mine=mine,
        shared_with=(await state.library.permissions(principal, collection_id))[1:] if mine else [],
        chats=await state.conversations.list(principal, 0, 50, collection_id=collection_id),
    )


@router.get("/ui/collections/{collection_id}/documents")
async def documents(request: Request, collection_id: DbId, principal: Viewer, state: State) -> Response:
    """The document list fragment (refreshed after uploads)."""
    rows = await state.rag.list_documents(principal, NEWEST, collection_id, None)
    return page(request, "_documents.html", documents=rows)


@router.post("/ui/collections/{collection_id}/documents")
async def upload(
    request: Request,
    collection_id: DbId,
    principal: Viewer,
    state: State,
    file: Annotated[UploadFile, File()],
) -> Response:
    """One file: parsed, chunked and embedded now (through the gateway); a failure leaves nothing."""
    data = await read_upload(file, state.settings.max_upload_bytes)
    ctx = CallContext(principal, "/ui/collections/documents", "POST")
    name = file.filename or "document"
    upload = (name, file.content_type, data)
    ingested = await unless_client_leaves(
        request, state.uploads.ingest_now(ctx, collection_id, upload, name, ChunkingOptions(), {})
    )
    return HTMLResponse(f"ready ({ingested.chunks} chunks)", status_code=201)


@router.post("/ui/collections/{collection_id}/share")
async def share(
    request: Request,
    collection_id: DbId,
    principal: Viewer,
    state: State,
    email: Annotated[str, Form(min_length=3, max_length=320)],
) -> Response:
    await state.library.share(principal, collection_id, email)
    return redirect(request, f"/ui/collections/{collection_id}")


@router.post("/ui/collections/{collection_id}/unshare")
async def unshare(
    request: Request,
    collection_id: DbId,
    principal: Viewer,
    state: State,
    email: Annotated[str, Form(min_length=3, max_length=320)],
) -> Response:
    await state.library.unshare(principal, collection_id, email)
    return redirect(request, f"/ui/collections/{collection_id}")


@router.post("/ui/collections/{collection_id}/delete")
async def delete_collection(
    request: Request, collection_id: DbId, principal: Viewer, state: State
) -> Response:
    await state.rag.delete_collection(principal, collection_id)
    return redirect(request, "/ui/collections")


@router.get("/ui/documents/{document_id}")
async def document(
    request: Request,
    document_id: DbId,
    principal: Viewer,
    state: State,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Response:
    row = await state.rag.get_document(principal, document_id)
    chunks = await state.rag.list_chunks(principal, document_id, offset, CHUNKS_PER_PAGE)
    return page(
        request, "document.html", document=row, chunks=chunks, offset=offset, per_page=CHUNKS_PER_PAGE
    )


@router.post("/ui/documents/{document_id}/delete")
async def delete_document(request: Request, document_id: DbId, principal: Viewer, state: State) -> Response:
    row = await state.rag.get_document(principal, document_id)
    await state.rag.delete_document(principal, document_id)
    return redirect(request, f"/ui/collections/{row.collection_id}")


@router.get("/ui/documents/{document_id}/chunks/{chunk_id}")
async def chunk(
    request: Request, document_id: DbId, chunk_id: DbId, principal: Viewer, state: State
) -> Response:
    """One chunk: text, page, metadata — a fragment for the dialog, or a page of its own."""
    # the console's links carry global chunk ids (search hits and chat references do too)
    found = await state.rag.get_chunk_by_id(principal, document_id, chunk_id)
    row = await state.rag.get_document(principal, document_id)
    template = "_chunk.html" if request.headers.get("hx-request") else "chunk.html"
    return page(request, template, chunk=found, document=row)
