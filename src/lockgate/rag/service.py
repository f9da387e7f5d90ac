"""Collections, documents and chunks as OpenGateLLM models them (create, list, read, change, delete),
and the entry to search. Every read and write goes through the access rule (`rag/access.py`); turning a
file into a document is `ingestion`'s."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.accounting.service import CallContext
from lockgate.errors import NotFound, PermissionDenied
from lockgate.identity.schemas import Permission, Principal
from lockgate.kit.db import Database
from lockgate.kit.pagination import Page
from lockgate.rag import repository
from lockgate.rag.access import accessible_document, readable_collection, writable_collection
from lockgate.rag.chunk_store import ChunkStore, write_chunks
from lockgate.rag.embedding import Embedder
from lockgate.rag.fusion import search_settings
from lockgate.rag.models import Chunk, Collection, Document
from lockgate.rag.retrieval import Retriever
from lockgate.rag.schemas import (
    ChunkView,
    CollectionChanges,
    CollectionView,
    DocumentEntry,
    DocumentView,
    NewChunk,
    chunk_view,
)
from lockgate.rag.search import to_blob


def _page(metadata: dict[str, Any] | None) -> int | None:
    """A positive integer `page` the client gave a chunk it adds is also the chunk's page (cited), while
    its metadata stays exactly as sent."""
    page = (metadata or {}).get("page")
    return page if isinstance(page, int) and not isinstance(page, bool) and page > 0 else None


class RagService:
    def __init__(self, db: Database, store: ChunkStore, embedder: Embedder, retriever: Retriever):
        self._db = db
        self._store = store
        self._embedder = embedder
        self.embedding_model = embedder.model
        self.retriever = retriever
        self.search = retriever.search  # POST /v1/search, chat search, h2oGPTe retrieval

    @staticmethod
    def _check_visibility(principal: Principal, visibility: str | None) -> None:
        if visibility == "public" and not principal.has(Permission.CREATE_PUBLIC_COLLECTION):
            raise PermissionDenied(
                "Creating a public collection requires the 'create_public_collection' permission."
            )

    # -- collections -------------------------------------------------------------------------------

    async def create_collection(
        self,
        principal: Principal,
        name: str,
        description: str | None,
        visibility: str,
        search: dict[str, Any] | None = None,
        dedup: bool = False,
    ) -> int:
        """A new collection; `search` holds its hybrid-search defaults (fusion, semantic_weight, rff_k,
        rerank_model: 422 naming the field when one is invalid); `dedup` refuses duplicate content."""
        self._check_visibility(principal, visibility)
        settings: dict[str, Any] = {"search": search_settings(search)} if search else {}
        if dedup:
            settings["dedup"] = True
        async with self._db.transaction() as session:
            row = Collection(
                name=name,
                description=description,
                visibility=visibility,
                owner_id=principal.user_id,
                settings=settings,
            )
            session.add(row)
            await session.flush()
            return row.id

    async def list_collections(
        self, principal: Principal, page: Page, name: str | None = None, visibility: str | None = None
    ) -> list[tuple[CollectionView, int]]:
        """Readable collections, each with its number of documents."""
        async with self._db.transaction() as session:
            rows = await repository.list_collections(session, principal.user_id, page, name, visibility)
            return [(CollectionView.of(c), n) for c, n in rows]

    async def get_collection(self, principal: Principal, collection_id: int) -> tuple[CollectionView, int]:
        """The collection (404 unless readable) and its number of documents."""
        async with self._db.transaction() as session:
            collection = await readable_collection(session, principal, collection_id)
            return CollectionView.of(collection), await repository.count_documents(session, collection.id)

    async def update_collection(
        self, principal: Principal, collection_id: int, changes: CollectionChanges
    ) -> None:
        """Apply `changes` to a collection the caller may change (404 unreadable, 403 read-only)."""
        self._check_visibility(principal, changes.visibility)
        async with self._db.transaction() as session:
            collection = await writable_collection(session, principal, collection_id)
            if changes.name is not None:
                collection.name = changes.name
            if changes.description is not None:
                collection.description = changes.description
            if changes.visibility is not None:
                collection.visibility = changes.visibility
            if changes.search is not None:  # replaces the stored search settings as a whole
                collection.settings = {
                    **(collection.settings or {}),
                    "search": search_settings(changes.search),
                }
            if changes.dedup is not None:
                collection.settings = {**(collection.settings or {}), "dedup": changes.dedup}

    async def delete_collection(
        self, principal: Principal, collection_id: int, unowned_as_missing: bool = False
    ) -> None:
        """Delete your collection. Someone else's you can read: 403, or 404 with `unowned_as_missing`
        (OpenGateLLM's answer: it only looks among your own collections)."""
        async with self._db.transaction() as session:
            try:
                collection = await writable_collection(session, principal, collection_id)
            except PermissionDenied as exc:
                if not unowned_as_missing:
                    raise
                raise NotFound(f"Collection {collection_id} not found.") from exc
            await session.delete(collection)

    # -- documents ---------------------------------------------------------------------------------

    async def manifest(self, principal: Principal, collection_id: int) -> list[DocumentEntry]:
        """Every document of a collection you can read (404 otherwise), by name, with its file hash
        (what a sync compares)."""
        async with self._db.transaction() as session:
            await readable_collection(session, principal, collection_id)
            return [DocumentEntry(*row) for row in await repository.manifest(session, collection_id)]

    async def create_document(self, principal: Principal, collection_id: int, name: str) -> int:
        async with self._db.transaction() as session:
            await writable_collection(session, principal, collection_id)
            document = Document(collection_id=collection_id, name=name, chunks=0)
            session.add(document)
            await session.flush()
            return document.id

    async def list_documents(
        self, principal: Principal, page: Page, collection_id: int | None, name: str | None
    ) -> list[DocumentView]:
        async with self._db.transaction() as session:
            if collection_id is not None:
                await readable_collection(session, principal, collection_id)
            rows = await repository.list_documents(session, principal.user_id, page, collection_id, name)
            return [DocumentView.of(d) for d in rows]

    async def get_document(self, principal: Principal, document_id: int) -> DocumentView:
        async with self._db.transaction() as session:
            return DocumentView.of(await accessible_document(session, principal, document_id))

    async def delete_document(self, principal: Principal, document_id: int) -> None:
        async with self._db.transaction() as session:
            document = await accessible_document(session, principal, document_id, write=True)
            await repository.bump_vectors(session, document.collection_id)
            await session.delete(document)

    # -- chunks ------------------------------------------------------------------------------------

    async def add_chunks(self, ctx: CallContext, document_id: int, chunks: list[NewChunk]) -> list[int]:
        """Append chunks; returns their numbers within the document (from 0, continuing, never reused)."""
        async with self._db.transaction() as session:
            await accessible_document(session, ctx.principal, document_id, write=True)
        vectors = await self._embedder.embed(ctx, [c.content for c in chunks])
        async with self._db.transaction() as session:
            document = await accessible_document(session, ctx.principal, document_id, write=True)
            start = await repository.take_chunk_numbers(session, document_id, len(chunks))
            rows = [
                Chunk(
                    document_id=document_id,
                    collection_id=document.collection_id,
                    position=start + i,
                    content=chunk.content,
                    metadata_=chunk.metadata or {},
                    page=_page(chunk.metadata),
                    embedding=to_blob(vector),
                )
                for i, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True))
            ]
            await write_chunks(self._store, session, rows)
            document.chunks += len(rows)
            return [r.position for r in rows]

    async def list_chunks(
        self, principal: Principal, document_id: int, offset: int, limit: int
    ) -> list[ChunkView]:
        async with self._db.transaction() as session:
            await accessible_document(session, principal, document_id)
            return [chunk_view(c) for c in await repository.list_chunks(session, document_id, offset, limit)]

    async def _chunk(
        self, session: AsyncSession, principal: Principal, document_id: int, chunk_id: int, write: bool
    ) -> tuple[Document, Chunk]:
        document = await accessible_document(session, principal, document_id, write=write)
        chunk = await repository.chunk_at(session, document_id, chunk_id)
        if chunk is None:
            raise NotFound(f"Chunk {chunk_id} not found in document {document_id}.")
        return document, chunk

    async def get_chunk(self, principal: Principal, document_id: int, chunk_id: int) -> ChunkView:
        async with self._db.transaction() as session:
            _, chunk = await self._chunk(session, principal, document_id, chunk_id, write=False)
            return chunk_view(chunk)

    async def get_chunk_by_id(self, principal: Principal, document_id: int, chunk_id: int) -> ChunkView:
        """A chunk by its global id (the id search hits and references carry), if it belongs to this
        readable document; 404 otherwise."""
        async with self._db.transaction() as session:
            await accessible_document(session, principal, document_id)
            chunk = await session.get(Chunk, chunk_id)
            if chunk is None or chunk.document_id != document_id:
                raise NotFound(f"Chunk {chunk_id} not found in document {document_id}.")
            return chunk_view(chunk)

    async def delete_chunk(self, principal: Principal, document_id: int, chunk_id: int) -> None:
        async with self._db.transaction() as session:
            document, chunk = await self._chunk(session, principal, document_id, chunk_id, write=True)
            document.chunks = max(0, document.chunks - 1)
            await repository.bump_vectors(session, document.collection_id)
            await session.delete(chunk)

    async def document_names(self, document_ids: list[int]) -> dict[int, str]:
        """Names of documents by id (for citations of chunks the caller was already allowed to read)."""
        if not document_ids:
            return {}
        async with self._db.transaction() as session:
            return await repository.document_names(session, document_ids)
