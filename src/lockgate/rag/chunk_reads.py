"""Reading chunks for clients that work on them directly (h2oGPTe `search_chunks`,
`process_document`): a collection's best chunks for a query with their document's name, and a
document's text in order. Access is the RAG rule: only what the caller can read."""

from __future__ import annotations

from dataclasses import dataclass

from lockgate.accounting.service import CallContext
from lockgate.errors import NotFound
from lockgate.identity.schemas import Principal
from lockgate.kit.db import Database
from lockgate.rag import library_repository as repo
from lockgate.rag.models import Document
from lockgate.rag.schemas import ChunkView, DocumentView, SearchQuery, chunk_view
from lockgate.rag.service import RagService


@dataclass(frozen=True, slots=True)
class ChunkHit:
    chunk: ChunkView
    score: float
    document_root: int  # the document's public id (the original of a copy)
    document_name: str


class ChunkReads:
    def __init__(self, db: Database, rag: RagService):
        self._db = db
        self._rag = rag

    async def search(
        self, ctx: CallContext, collection_id: int, query: str, roots: list[int], offset: int, limit: int
    ) -> list[ChunkHit]:
        """Hybrid search in one readable collection (404 otherwise), limited to the documents `roots`
        when given. Best first."""
        await self._rag.get_collection(ctx.principal, collection_id)
        document_ids: list[int] | None = None
        if roots:
            async with self._db.transaction() as session:
                copies = [await repo.copy_in(session, collection_id, root) for root in roots]
            document_ids = [c.id for c in copies if c is not None]
            if not document_ids:
                return []
        search = SearchQuery(query, "hybrid", [collection_id], document_ids, limit=limit, offset=offset)
        hits, _ = await self._rag.search(ctx, search)
        async with self._db.transaction() as session:
            found = {d: await session.get(Document, d) for d in {c.document_id for _, _, c in hits}}
        documents = {d: document for d, document in found.items() if document is not None}
        return [
            ChunkHit(
                c,
                float(score),
                documents[c.document_id].origin_id or c.document_id,
                documents[c.document_id].name,
            )
            for _, score, c in hits
            if c.document_id in documents
        ]

    async def document_text(
        self, principal: Principal, root: int, max_chunks: int | None
    ) -> tuple[DocumentView, list[str]]:
        """(the document, its chunks' text in order), of a document the caller can read (for a
        collection key: in its collection)."""
        async with self._db.transaction() as session:
            copies = [d for d, _, _ in await repo.copies(session, principal.user_id, root)]
            if principal.collection_id is not None:
                copies = [d for d in copies if d.collection_id == principal.collection_id]
            if not copies:
                raise NotFound(f"Document {root} not found.")
            chunks = await repo.chunks_of(session, copies[0].id)
        texts = [c.content for c in chunks]
        return DocumentView.of(copies[0]), texts[:max_chunks] if max_chunks and max_chunks > 0 else texts

    async def document_chunks(self, principal: Principal, collection_id: int, root: int) -> list[ChunkHit]:
        """The chunks of a document in one collection, in order (404 unless the caller can read it)."""
        await self._rag.get_collection(principal, collection_id)
        async with self._db.transaction() as session:
            document = await repo.copy_in(session, collection_id, root)
            if document is None:
                raise NotFound(f"Document {root} not found in collection {collection_id}.")
            chunks = await repo.chunks_of(session, document.id)
        return [ChunkHit(chunk_view(c), 0.0, root, document.name) for c in chunks]

    async def chunks_by_id(self, principal: Principal, collection_id: int, ids: list[int]) -> list[ChunkHit]:
        """Chunks of one readable collection by id (the ids `search` answers), in the order asked;
        404 naming the first id that is not a chunk of that collection."""
        await self._rag.get_collection(principal, collection_id)
        async with self._db.transaction() as session:
            found = await repo.chunks_in(session, collection_id, ids)
            documents = {d: await session.get(Document, d) for d in {c.document_id for c in found.values()}}
        hits = []
        for chunk_id in ids:
            chunk = found.get(chunk_id)
            if chunk is None:
                missing = f"Chunk {chunk_id} not found in collection {collection_id}."
                raise NotFound(missing, param="chunk_ids")
            document = documents[chunk.document_id]
            assert document is not None
            hits.append(ChunkHit(chunk_view(chunk), 0.0, document.origin_id or document.id, document.name))
        return hits
