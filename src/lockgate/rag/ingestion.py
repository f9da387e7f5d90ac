"""Ingestion: a file becomes a document. Parse (OCR where a page has no text) and chunk off the event
loop, embed through the gateway, then write the document and every chunk in one transaction, so a
failure anywhere leaves nothing behind. Also POST /v1/parse-beta, which parses without storing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.accounting.service import CallContext
from lockgate.errors import AppError
from lockgate.gateway.service import GatewayService
from lockgate.inference.ocr import OcrEngine
from lockgate.kit.db import Database
from lockgate.rag.access import writable_collection
from lockgate.rag.chunk_store import ChunkStore, write_chunks
from lockgate.rag.chunking import ChunkingOptions, split
from lockgate.rag.embedding import Embedder
from lockgate.rag.models import Chunk, Document
from lockgate.rag.parsing import Page as ParsedPage
from lockgate.rag.parsing import parse
from lockgate.rag.search import to_blob
from lockgate.rag.tokens import counter_for


class NotAvailable(AppError):
    status_code = 501
    code = "not_implemented"


class Ingestion:
    def __init__(self, db: Database, gateway: GatewayService, embedder: Embedder, store: ChunkStore):
        self._db = db
        self._gateway = gateway
        self._embedder = embedder
        self._store = store

    def _ocr(self) -> Callable[[bytes], str] | None:
        """A blocking OCR function for the parser's thread, backed by the local OCR engine if loaded."""
        engines = self._gateway.registry.engines
        engine = next(
            (e for e in (engines.engines.values() if engines else ()) if isinstance(e, OcrEngine)), None
        )
        if engine is None:
            return None

        async def read(image: bytes) -> str:
            return "\n".join(page.markdown for page in await engine.recognize(image))

        return lambda image: anyio.from_thread.run(read, image)

    async def parse_pages(
        self, filename: str, content_type: str | None, data: bytes, pages: set[int] | None, force_ocr: bool
    ) -> list[ParsedPage]:
        """POST /v1/parse-beta: a file's pages as text, OCR'd where they have none (or always)."""
        ocr = self._ocr()
        if force_ocr and ocr is None:
            raise NotAvailable("force_ocr: no OCR engine is loaded on this server.")
        return await anyio.to_thread.run_sync(
            lambda: parse(filename, content_type, data, ocr=ocr, force_ocr=force_ocr, pages=pages)
        )

    async def ingest(
        self,
        ctx: CallContext,
        collection_id: int,
        filename: str,
        content_type: str | None,
        data: bytes,
        name: str | None,
        options: ChunkingOptions,
        metadata: dict[str, Any],
        on_written: Callable[[AsyncSession, int], Awaitable[None]] | None = None,
    ) -> int:
        """Parse, chunk and embed off the event loop, then write the document and every chunk in one
        transaction: a failure anywhere leaves nothing behind. `on_written(session, document_id)` runs
        inside that transaction (a job records its progress with the document, jobs/worker.py)."""
        async with self._db.transaction() as session:
            await writable_collection(session, ctx.principal, collection_id)
        ocr = self._ocr()
        pages = await anyio.to_thread.run_sync(lambda: parse(filename, content_type, data, ocr=ocr))
        counter = counter_for(self._gateway, self._embedder.model)
        pieces = await anyio.to_thread.run_sync(split, pages, options, counter)
        # The same content twice makes two documents, as in OpenGateLLM.
        vectors = await self._embedder.embed(ctx, [content for content, _ in pieces])
        async with self._db.transaction() as session:
            await writable_collection(session, ctx.principal, collection_id)  # still yours, still there
            document = Document(
                collection_id=collection_id,
                name=name or filename or "document",
                chunks=len(pieces),
                next_chunk=len(pieces),
                content_type=content_type,
                size=len(data),
                pages=len(pages),
                metadata_=metadata,
            )
            session.add(document)
            await session.flush()
            rows = [
                Chunk(
                    document_id=document.id,
                    collection_id=collection_id,
                    position=position,
                    content=content,
                    metadata_=dict(metadata),
                    page=page,
                    embedding=to_blob(vector),
                )
                for position, ((content, page), vector) in enumerate(zip(pieces, vectors, strict=True))
            ]
            await write_chunks(self._store, session, rows)
            if on_written is not None:
                await on_written(session, document.id)
            return document.id
