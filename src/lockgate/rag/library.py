"""The document library around collections: summaries, settings, sharing with other users, documents
in several collections (an import copies rows and chunks, keeping `origin_id`), tags and questions.
Reads follow the RAG access rule (own, public, shared with you); writes are the collection owner's."""

from __future__ import annotations

import builtins  # the `list` method shadows the builtin in the annotations after it
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from lockgate.identity.repository import get_user_by_email
from lockgate.identity.schemas import Principal
from lockgate.kit.db import Database
from lockgate.kit.pagination import Page
from lockgate.rag import library_repository as repo
from lockgate.rag.access import readable_collection, writable_collection
from lockgate.rag.chunk_store import ChunkStore, write_chunks
from lockgate.rag.models import Chunk, CollectionShare, Document, Tag
from lockgate.rag.repository import bump_vectors
from lockgate.rag.schemas import CollectionInfo, CollectionView, DocumentInfo, DocumentView, TagView
from lockgate.rag.service import RagService


@dataclass(frozen=True, slots=True)
class _Copy:
    """One readable row of a document (the library changes these rows, so they stay ORM rows inside)."""

    document: Document
    owner: str
    writable: bool


SessionCounts = Callable[[list[int]], Awaitable[dict[int, int]]]
"""Chat sessions per collection id (conversations' `session_counts`, injected: rag does not import
conversations, which builds on it)."""


async def _flush(session: AsyncSession, conflict: str) -> None:
    """Flush; a unique constraint hit by a concurrent request is a 409, not a 500."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(conflict) from exc


class Library:
    def __init__(self, db: Database, rag: RagService, store: ChunkStore, session_counts: SessionCounts):
        self._db = db
        self._rag = rag
        self._store = store
        self._session_counts = session_counts

    async def _infos(self, rows: list[repo.CollectionRow]) -> list[CollectionInfo]:
        """Summary rows (collection, documents, size, shares, owner) with their chat session counts."""
        sessions = await self._session_counts([row[0].id for row in rows])
        return [
            CollectionInfo(
                CollectionView.of(row[0]),
                int(row[1]),
                int(row[2]),
                int(row[3]),
                row[4],
                sessions.get(row[0].id, 0),
                self._rag.embedding_model,
            )
            for row in rows
        ]

    # -- collections -------------------------------------------------------------------------------

    async def create(
        self, principal: Principal, name: str, description: str | None, settings: dict[str, Any]
    ) -> CollectionInfo:
        collection_id = await self._rag.create_collection(principal, name, description, "private")
        if settings:
            await self.put_settings(principal, collection_id, settings)
        return await self.info(principal, collection_id)

    async def info(self, principal: Principal, collection_id: int) -> CollectionInfo:
        async with self._db.transaction() as session:
            await readable_collection(session, principal, collection_id)
            rows = await repo.collection_rows(session, principal.user_id, None, ids=[collection_id])
        return (await self._infos(rows))[0]

    async def list(
        self, principal: Principal, page: Page, name: str | None, mine_only: bool
    ) -> builtins.list[CollectionInfo]:
        async with self._db.transaction() as session:
            rows = await repo.collection_rows(session, principal.user_id, page, name, mine_only)
        return await self._infos(rows)

    async def count(self, principal: Principal) -> int:
        async with self._db.transaction() as session:
            return await repo.count_collections(session, principal.user_id)

    async def update(
        self, principal: Principal, collection_id: int, changes: dict[str, Any]
    ) -> CollectionInfo:
        async with self._db.transaction() as session:
            collection = await writable_collection(session, principal, collection_id)
            for field in ("name", "description"):
                if changes.get(field) is not None:
                    setattr(collection, field, changes[field])
            if changes.get("rag_type") is not None:
                collection.settings = {**(collection.settings or {}), "rag_type": changes["rag_type"]}
        return await self.info(principal, collection_id)

    async def delete_collection(self, principal: Principal, collection_id: int) -> None:
        await self._rag.delete_collection(principal, collection_id)

    async def settings(self, principal: Principal, collection_id: int) -> dict[str, Any]:
        async with self._db.transaction() as session:
            stored = (await readable_collection(session, principal, collection_id)).settings or {}
        return {k: v for k, v in stored.items() if k != "search"}  # Lockgate's own, set on /v1/collections

    async def put_settings(self, principal: Principal, collection_id: int, settings: dict[str, Any]) -> None:
        for field in ("max_tokens_per_chunk", "chunk_overlap_tokens"):
            value = settings.get(field)
            if value is not None and (value < 0 or (field == "max_tokens_per_chunk" and value < 1)):
                raise InvalidRequest(f"{field}: must be a positive number.", param=field)
        async with self._db.transaction() as session:
            collection = await writable_collection(session, principal, collection_id)
            kept = {k: v for k, v in (collection.settings or {}).items() if k in ("rag_type", "search")}
            collection.settings = {**kept, **settings}

    async def chat_settings(self, principal: Principal, collection_id: int) -> dict[str, Any]:
        async with self._db.transaction() as session:
            return dict((await readable_collection(session, principal, collection_id)).chat_settings or {})

    async def put_chat_settings(
        self, principal: Principal, collection_id: int, values: dict[str, Any]
    ) -> None:
        """Replace the collection's chat settings (owner only)."""
        async with self._db.transaction() as session:
            (await writable_collection(session, principal, collection_id)).chat_settings = values

    async def metadata(self, principal: Principal, collection_id: int) -> dict[str, Any]:
        async with self._db.transaction() as session:
            return dict((await readable_collection(session, principal, collection_id)).metadata_ or {})

    async def put_metadata(self, principal: Principal, collection_id: int, values: dict[str, Any]) -> None:
        """Replace the collection's metadata (owner only)."""
        async with self._db.transaction() as session:
            (await writable_collection(session, principal, collection_id)).metadata_ = values

    async def questions(self, principal: Principal, collection_id: int, limit: int) -> builtins.list[str]:
        async with self._db.transaction() as session:
            await readable_collection(session, principal, collection_id)
            stored = await repo.questions(session, collection_id)
        found = [q for questions in stored for q in questions or [] if isinstance(q, str)]
        return found[:limit]

    # -- sharing -----------------------------------------------------------------------------------

    async def permissions(self, principal: Principal, collection_id: int) -> builtins.list[str]:
        """The owner's username, then those the collection is shared with."""
        async with self._db.transaction() as session:
            await readable_collection(session, principal, collection_id)
            rows = await repo.collection_rows(session, principal.user_id, None, ids=[collection_id])
            return [rows[0][4], *await repo.shares(session, collection_id)]

    async def share(self, principal: Principal, collection_id: int, username: str) -> None:
        async with self._db.transaction() as session:
            collection = await writable_collection(session, principal, collection_id)
            user = await get_user_by_email(session, username)
            if user is None:
                raise NotFound(f"User {username} not found.", param="username")
            if user.id == collection.owner_id:
                raise Conflict(f"{username} owns collection: it cannot be shared with them.")
            if username.lower() not in {e.lower() for e in await repo.shares(session, collection_id)}:
                session.add(CollectionShare(collection_id=collection_id, user_id=user.id))
                await _flush(session, f"Collection {collection_id} is being shared with {username} already.")

    async def unshare(self, principal: Principal, collection_id: int, username: str | None) -> None:
        """Unshare with one user, or with everyone when `username` is None."""
        async with self._db.transaction() as session:
            await writable_collection(session, principal, collection_id)
            user_id = None
            if username is not None:
                user = await get_user_by_email(session, username)
                if user is None:
                    raise NotFound(f"User {username} not found.", param="username")
                user_id = user.id
            await repo.unshare(session, collection_id, user_id)

    # -- documents ---------------------------------------------------------------------------------

    async def documents(
        self, principal: Principal, page: Page, collection_id: int | None, mine_only: bool = False
    ) -> builtins.list[DocumentInfo]:
        async with self._db.transaction() as session:
            if collection_id is not None:
                await readable_collection(session, principal, collection_id)
            rows = await repo.documents(session, principal.user_id, page, collection_id, mine_only)
        return [DocumentInfo(DocumentView.of(d), owner) for d, owner in rows]

    async def count_documents(
        self, principal: Principal, collection_id: int | None, mine_only: bool = False
    ) -> int:
        async with self._db.transaction() as session:
            if collection_id is not None:
                await readable_collection(session, principal, collection_id)
            return await repo.count_documents(session, principal.user_id, collection_id, mine_only)

    @staticmethod
    async def _copies(session: AsyncSession, principal: Principal, root: int) -> builtins.list[_Copy]:
        rows = await repo.copies(session, principal.user_id, root, principal.is_master)
        if not rows:
            raise NotFound(f"Document {root} not found.")
        return [_Copy(d, owner, writable) for d, owner, writable in rows]

    async def document(self, principal: Principal, root: int) -> DocumentInfo:
        """The oldest copy of a document the caller can read (a collection key: its copy in the key's
        collection)."""
        async with self._db.transaction() as session:
            copies = await self._copies(session, principal, root)
        if principal.collection_id is not None:
            copies = [c for c in copies if c.document.collection_id == principal.collection_id]
            if not copies:
                raise NotFound(f"Document {root} not found.")
        return DocumentInfo(DocumentView.of(copies[0].document), copies[0].owner)

    @staticmethod
    def _writable_copies(copies: builtins.list[_Copy], root: int) -> builtins.list[Document]:
        mine = [c.document for c in copies if c.writable]
        if not mine:
            raise PermissionDenied(f"Document {root} is not yours: it is read-only for you.")
        return mine

    async def update_document(
        self, principal: Principal, root: int, name: str | None, uri: str | None
    ) -> DocumentInfo:
        async with self._db.transaction() as session:
            copies = await self._copies(session, principal, root)
            for document in self._writable_copies(copies, root):
                if name is not None:
                    document.name = name
                if uri is not None:
                    document.metadata_ = {**(document.metadata_ or {}), "uri": uri}
        return await self.document(principal, root)

    async def delete_document(self, principal: Principal, root: int) -> None:
        """Delete the document from every collection of yours that holds it."""
        async with self._db.transaction() as session:
            copies = await self._copies(session, principal, root)
            for document in self._writable_copies(copies, root):
                await bump_vectors(session, document.collection_id)
                await session.delete(document)

    async def collections_of(
        self, principal: Principal, root: int, offset: int, limit: int
    ) -> builtins.list[CollectionInfo]:
        async with self._db.transaction() as session:
            ids = [c.document.collection_id for c in await self._copies(session, principal, root)]
            rows = await repo.collection_rows(session, principal.user_id, None, ids=ids)
        return (await self._infos(rows))[offset : offset + limit]

    async def import_document(self, principal: Principal, collection_id: int, root: int) -> None:
        """Put a document you can read into a collection of yours: a copy of its row and chunks."""
        async with self._db.transaction() as session:
            await writable_collection(session, principal, collection_id)
            source = (await self._copies(session, principal, root))[0].document
            if await repo.copy_in(session, collection_id, root):
                return  # already there
            copy = Document(
                collection_id=collection_id,
                origin_id=root,
                **{
                    f: getattr(source, f)
                    for f in (
                        "name",
                        "content_hash",
                        "file_hash",
                        "chunks",
                        "next_chunk",
                        "content_type",
                        "size",
                        "pages",
                        "summary",
                    )
                },
                questions=list(source.questions) if source.questions else None,
                metadata_=dict(source.metadata_ or {}),
            )
            session.add(copy)
            try:
                await session.flush()
            except IntegrityError as exc:
                raise Conflict(f"The same content is already in collection {collection_id}.") from exc
            rows = [
                Chunk(
                    document_id=copy.id,
                    collection_id=collection_id,
                    position=c.position,
                    content=c.content,
                    metadata_=dict(c.metadata_ or {}),
                    page=c.page,
                    embedding=c.embedding,
                    length=c.length,
                )
                for c in await repo.chunks_of(session, source.id)
            ]
            if rows:
                await write_chunks(self._store, session, rows)
            for tag_id in await repo.tag_ids_of(session, source.id):
                await repo.tag_documents(session, tag_id, [copy.id])

    async def remove_document(self, principal: Principal, collection_id: int, root: int) -> None:
        async with self._db.transaction() as session:
            await writable_collection(session, principal, collection_id)
            copy = await repo.copy_in(session, collection_id, root)
            if copy is None:
                raise NotFound(f"Document {root} not found in collection {collection_id}.")
            await bump_vectors(session, collection_id)
            await session.delete(copy)

    # -- tags (each user has their own) -------------------------------------------------------------

    async def create_tag(self, principal: Principal, name: str) -> TagView:
        if not name.strip():
            raise InvalidRequest("name: must not be empty.", param="name")
        async with self._db.transaction() as session:
            if await repo.tag_by_name(session, principal.user_id, name):
                raise Conflict(f"Tag {name} already exists.")
            tag = Tag(owner_id=principal.user_id, name=name)
            session.add(tag)
            await _flush(session, f"Tag {name} already exists.")
            return TagView.of(tag)

    async def tags(self, principal: Principal, linked_only: bool) -> builtins.list[TagView]:
        async with self._db.transaction() as session:
            return [TagView.of(t) for t in await repo.tags(session, principal.user_id, linked_only)]

    async def _tag(self, session: AsyncSession, principal: Principal, name: str) -> Tag:
        tag = await repo.tag_by_name(session, principal.user_id, name)
        if tag is None:
            raise NotFound(f"Tag {name} not found.")
        return tag

    async def tag(self, principal: Principal, name: str) -> TagView:
        async with self._db.transaction() as session:
            return TagView.of(await self._tag(session, principal, name))

    async def update_tag(self, principal: Principal, name: str, changes: dict[str, Any]) -> TagView:
        async with self._db.transaction() as session:
            tag = await self._tag(session, principal, name)
            for field in ("description", "format"):
                if field in changes:
                    setattr(tag, field, changes[field])
            return TagView.of(tag)

    async def tag_document(self, principal: Principal, root: int, name: str) -> TagView:
        """Tag every copy you can read of a document (created if you have no tag of that name)."""
        if not name.strip():
            raise InvalidRequest("name: must not be empty.", param="name")
        async with self._db.transaction() as session:
            copies = await self._copies(session, principal, root)
            tag = await repo.tag_by_name(session, principal.user_id, name)
            if tag is None:
                tag = Tag(owner_id=principal.user_id, name=name)
                session.add(tag)
                await _flush(session, f"Tag {name} is being created already: try again.")
            await repo.tag_documents(session, tag.id, [c.document.id for c in copies])
            await _flush(session, f"Document is being tagged {name} by another request: try again.")
            return TagView.of(tag)

    async def untag_document(self, principal: Principal, root: int, name: str) -> TagView:
        async with self._db.transaction() as session:
            copies = await self._copies(session, principal, root)
            tag = await self._tag(session, principal, name)
            await repo.untag_documents(session, tag.id, [c.document.id for c in copies])
            return TagView.of(tag)

    async def tagged(
        self, principal: Principal, names: builtins.list[str], collection_id: int
    ) -> builtins.list[DocumentInfo]:
        async with self._db.transaction() as session:
            await readable_collection(session, principal, collection_id)
            found = [await repo.tag_by_name(session, principal.user_id, n) for n in names]
            ids = [t.id for t in found if t is not None]
            rows = await repo.tagged_documents(session, principal.user_id, ids, collection_id) if ids else []
        return [DocumentInfo(DocumentView.of(d), owner) for d, owner in rows]
