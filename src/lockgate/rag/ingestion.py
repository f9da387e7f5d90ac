"""Ingestion: files become documents of a collection, many at a time. Parse (in worker processes for
the formats that are slow to read; OCR where a page has no text), chunk in the embedding model's tokens,
embed every chunk of the call in a few large requests through the gateway, and write documents in
transactions that each hold whole documents, so a failure leaves no half document. Also POST
/v1/parse-beta, which parses without storing.

Sync by name (`sync_files`): a file whose bytes hash like the document of the same name in the
collection is `unchanged` (nothing is parsed, embedded or written); a changed one `replaced` its old
version (old chunks removed in the transaction that writes the new ones); otherwise `created`. Without
sync (OpenGateLLM's POST /v1/documents) every file makes a new document. The same content under two
names makes two documents unless the collection opts into `dedup`."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.accounting.service import CallContext
from lockgate.errors import AppError, Conflict, InvalidRequest
from lockgate.gateway.service import GatewayService
from lockgate.inference.ocr import OcrEngine
from lockgate.kit.db import Database
from lockgate.rag import repository
from lockgate.rag.access import writable_collection
from lockgate.rag.chunk_store import ChunkStore, write_chunks
from lockgate.rag.chunking import ChunkingOptions, oversized, read, split
from lockgate.rag.embedding import Embedder
from lockgate.rag.models import Chunk, Document
from lockgate.rag.parse_pool import ParseLimits, ParsePool
from lockgate.rag.parsing import KINDS, parse, render_pages
from lockgate.rag.parsing import Page as ParsedPage
from lockgate.rag.schemas import FileResult, Outcome, SourceFile
from lockgate.rag.search import to_blob
from lockgate.rag.tokens import TokenCounter, counter_for

# Read in worker processes, bounded in CPU time and memory (rag/parse_pool.py): their parsers hold the
# GIL for long (PDF text layers, office XML) and are where a hostile file does its harm.
POOLED_KINDS = {"pdf", "docx", "pptx", "xlsx", "odt", "epub", "html", "eml"}
POOLED_MIN_BYTES = 256 * 1024  # text files this large go there too; smaller ones are read in a thread
PARSE_WORKERS = max(1, min(4, os.cpu_count() or 1))
OCR_RENDER_BATCH = 8  # PDF pages rendered per worker task (the file goes along with each)
# Chunks written per transaction (whole documents only: a larger document gets one of its own).
WRITE_BATCH_CHUNKS = 2048

# Runs in the transaction that writes a document, with its id (a job records its progress there).
OnWritten = Callable[[AsyncSession, int], Awaitable[None]]


class NotAvailable(AppError):
    status_code = 501
    code = "not_implemented"


@dataclass(slots=True)
class _Work:
    index: int
    source: SourceFile
    digest: str
    sync: bool  # replaces the documents of its name
    pages: list[ParsedPage] = field(default_factory=list)
    pieces: list[tuple[str, int | None]] = field(default_factory=list)  # (content, page)
    vectors: list[list[float]] = field(default_factory=list)


class Ingestion:
    def __init__(
        self,
        db: Database,
        gateway: GatewayService,
        embedder: Embedder,
        store: ChunkStore,
        limits: ParseLimits | None = None,
        ocr: Callable[[], OcrEngine | None] = lambda: None,
    ):
        """`ocr`: the local OCR engine when one is loaded (engines load after startup, so asked each time)."""
        self._db = db
        self._gateway = gateway
        self._embedder = embedder
        self._store = store
        self._ocr_engine = ocr
        self._pool = ParsePool(PARSE_WORKERS, limits or ParseLimits())

    def close(self) -> None:
        """Stops the parsing worker processes, if any were started."""
        self._pool.close()

    async def _ocr_blank_pages(
        self, filename: str, data: bytes, pages: list[ParsedPage], engine: OcrEngine | None
    ) -> list[ParsedPage]:
        """A PDF's pages with those that have no text read by the OCR engine from their images (rendered
        in the parse pool, bounded like any read); unchanged without an engine."""
        blank = [page.number for page in pages if not page.text and page.number is not None]
        if engine is None or not blank:
            return pages
        texts: dict[int, str] = {}
        for start in range(0, len(blank), OCR_RENDER_BATCH):
            numbers = blank[start : start + OCR_RENDER_BATCH]
            images = await self._pool.run(filename, render_pages, data, numbers)
            for number, image in zip(numbers, images, strict=True):
                read = await engine.recognize(image)
                texts[number] = "\n".join(page.markdown for page in read).strip()
        return [ParsedPage(texts[p.number], p.number) if p.number in texts else p for p in pages]

    async def parse_pages(
        self, filename: str, content_type: str | None, data: bytes, pages: set[int] | None, force_ocr: bool
    ) -> list[ParsedPage]:
        """POST /v1/parse-beta: a file's pages as text, OCR'd where they have none (or always). 422 for a
        file whose reading goes past the parse limits."""
        engine = self._ocr_engine()
        if force_ocr and engine is None:
            raise NotAvailable("force_ocr: no OCR engine is loaded on this server.")
        # force_ocr: every page comes back blank, so every page is OCR'd
        read = await self._pool.run(filename, parse, filename, content_type, data, force_ocr, pages)
        return await self._ocr_blank_pages(filename, data, read, engine)

    async def ingest_file(
        self,
        ctx: CallContext,
        collection_id: int,
        filename: str,
        content_type: str | None,
        data: bytes,
        name: str | None,
        options: ChunkingOptions,
        metadata: dict[str, Any],
        on_written: OnWritten | None = None,
    ) -> FileResult:
        """One new document from one file (the document and all its chunks in one transaction: a failure
        anywhere leaves nothing behind), with its warnings. 4xx for a file that cannot be read (415
        unsupported type, 400 unreadable, 409 duplicate in a collection that dedups).
        `on_written(session, document_id)` runs inside that transaction (a job records its progress with
        the document, jobs/worker.py)."""
        source = SourceFile(name or filename or "document", filename, content_type, data)
        [result] = await self._run(ctx, collection_id, [source], options, metadata, False, on_written)
        if result.error is not None:
            raise result.error
        return result

    async def sync_files(
        self,
        ctx: CallContext,
        collection_id: int,
        sources: list[SourceFile],
        options: ChunkingOptions,
        metadata: dict[str, Any],
    ) -> list[FileResult]:
        """Sync files into a collection by name: each `unchanged`, `replaced`, `created` or `failed` (with
        its error), in order. 422 when two files share a name; 404/403 for a collection the caller
        cannot write."""
        seen: set[str] = set()
        for source in sources:
            if source.name in seen:
                raise InvalidRequest(f"names: '{source.name}' is given to two files.", param="names")
            seen.add(source.name)
        return await self._run(ctx, collection_id, sources, options, metadata, True, None)

    async def _run(
        self,
        ctx: CallContext,
        collection_id: int,
        sources: list[SourceFile],
        options: ChunkingOptions,
        metadata: dict[str, Any],
        sync: bool,
        on_written: OnWritten | None,
    ) -> list[FileResult]:
        """One result per source, in order. Upstream failures while embedding (502/503/504) are raised
        and nothing of this call is written; a database failure is raised with every document of its
        transaction rolled back."""
        digests = [source.digest() for source in sources]
        async with self._db.transaction() as session:
            collection = await writable_collection(session, ctx.principal, collection_id)
            dedup = bool((collection.settings or {}).get("dedup"))
            names = [s.name for s in sources] if sync else []
            existing = await repository.documents_named(session, collection_id, names)
            known = await repository.documents_hashed(session, collection_id, digests) if dedup else {}
        results: list[FileResult] = [FileResult(s.name, Outcome.FAILED) for s in sources]
        work: list[_Work] = []
        for index, (source, digest) in enumerate(zip(sources, digests, strict=True)):
            previous = existing.get(source.name, [])
            if sync and previous and all(d.file_hash == digest for d in previous):
                results[index] = FileResult(
                    source.name, Outcome.UNCHANGED, previous[0].id, previous[0].chunks
                )
                continue
            twin = known.get(digest)
            if twin is not None:
                # named, so that a client retrying an upload after a disconnect learns its document
                where = (
                    f"as document {twin[0]} ('{twin[1]}')" if twin[0] else f"as '{twin[1]}' in this request"
                )
                results[index].error = Conflict(
                    f"{source.name}: this content is already in collection {collection_id} {where}, "
                    "which refuses duplicates (dedup)."
                )
                continue
            if dedup:
                known[digest] = (0, source.name)  # a second copy within this call is a duplicate too
            work.append(_Work(index, source, digest, sync))
        counter = counter_for(self._gateway, self._embedder.model)
        await self._prepare(work, options, counter, results)
        work = [w for w in work if results[w.index].error is None]
        await self._embed_all(ctx, work)
        for batch in _batches(work):
            await self._write(collection_id, batch, metadata, results, on_written)
        for item in work:
            too_long = oversized([content for content, _ in item.pieces], counter)
            if too_long:
                how = "counted by its tokenizer" if counter.exact else "estimated"
                results[item.index].warnings.append(
                    f"{too_long} of {len(item.pieces)} chunks are longer than the embedding model reads "
                    f"({counter.budget} tokens, {how}): their text past that does not reach their vectors; "
                    "send a smaller chunk_size, or none for chunks that fit."
                )
        return results

    async def _prepare(
        self, work: list[_Work], options: ChunkingOptions, counter: TokenCounter, results: list[FileResult]
    ) -> None:
        engine = self._ocr_engine()

        async def one(item: _Work) -> None:
            source = item.source
            # A client's regular expression as separator may backtrack without end: in a worker too.
            pooled = (
                _kind(source) in POOLED_KINDS
                or len(source.data) >= POOLED_MIN_BYTES
                or options.is_separator_regex
            )
            args = (source.filename, source.content_type, source.data, options, counter, engine is None)
            try:
                if pooled:  # cancelling this task (the client left) stops the worker's read
                    pages, pieces = await self._pool.run(source.filename, read, *args)
                else:
                    pages, pieces = await anyio.to_thread.run_sync(read, *args)
                if pieces is None:  # PDF pages without a text layer: read by OCR here, where the engine is
                    pages = await self._ocr_blank_pages(source.filename, source.data, pages, engine)
                    pieces = await self._pool.run(source.filename, split, pages, options, counter)
            except AppError as exc:
                results[item.index].error = exc
                return
            item.pages, item.pieces = pages, pieces

        async with anyio.create_task_group() as group:
            for item in work:
                group.start_soon(one, item)

    async def _embed_all(self, ctx: CallContext, work: list[_Work]) -> None:
        """Every chunk of every file in as few embedding calls as the batch size allows."""
        texts = [content for item in work for content, _ in item.pieces]
        # Calls of texts of similar length: a local model pads each batch to its longest text.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        found = await self._embedder.embed(ctx, [texts[i] for i in order]) if texts else []
        vectors: list[list[float]] = [[] for _ in texts]
        for i, vector in zip(order, found, strict=True):
            vectors[i] = vector
        start = 0
        for item in work:
            item.vectors = vectors[start : start + len(item.pieces)]
            start += len(item.pieces)

    async def _write(
        self,
        collection_id: int,
        batch: list[_Work],
        metadata: dict[str, Any],
        results: list[FileResult],
        on_written: OnWritten | None,
    ) -> None:
        async with self._db.transaction() as session:
            # Locks the collection's row first (PostgreSQL): concurrent syncs of one name queue here.
            await repository.bump_vectors(session, collection_id)
            documents = []
            named = await repository.documents_named(
                session, collection_id, [item.source.name for item in batch if item.sync]
            )
            for item in batch:
                stale = [d.id for d in named.pop(item.source.name, [])]
                if stale:
                    await repository.delete_documents(session, stale)
                document = Document(
                    collection_id=collection_id,
                    name=item.source.name,
                    file_hash=item.digest,
                    chunks=len(item.pieces),
                    next_chunk=len(item.pieces),
                    content_type=item.source.content_type,
                    size=len(item.source.data),
                    pages=len(item.pages),
                    metadata_=metadata,
                )
                session.add(document)
                documents.append((item, document, Outcome.REPLACED if stale else Outcome.CREATED))
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
                for item, document, _ in documents
                for position, ((content, page), vector) in enumerate(
                    zip(item.pieces, item.vectors, strict=True)
                )
            ]
            await write_chunks(self._store, session, rows)
            if on_written is not None:
                for _, document, _ in documents:
                    await on_written(session, document.id)
        for item, document, outcome in documents:
            results[item.index] = FileResult(item.source.name, outcome, document.id, len(item.pieces))


def _kind(source: SourceFile) -> str:
    return KINDS.get(PurePath(source.filename).suffix.lower(), "")


def _batches(work: list[_Work]) -> list[list[_Work]]:
    batches: list[list[_Work]] = []
    size = 0
    for item in work:
        if batches and size + len(item.pieces) <= WRITE_BATCH_CHUNKS:
            batches[-1].append(item)
            size += len(item.pieces)
        else:
            batches.append([item])
            size = len(item.pieces)
    return batches
