"""The one access rule of RAG, written once as SQL: a user reads their own collections, public ones and
those shared with them, and writes their own. Lists and searches AND their statements with
`readable(user_id)`; the checks below run the same clauses for one collection or document, so no
Python code restates the rule. Every surface (OpenGateLLM, h2oGPTe, console) and conversations use it.

A collection the caller cannot read looks absent (404), so its existence leaks nothing; one they can
read but not write is a 403."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.errors import NotFound, PermissionDenied
from lockgate.identity.schemas import Principal
from lockgate.rag.models import Collection, CollectionShare, Document


def readable(user_id: int) -> ColumnElement[bool]:
    """Collections `user_id` may read: theirs, public ones, and those shared with them."""
    shared = select(CollectionShare.collection_id).where(CollectionShare.user_id == user_id)
    return or_(Collection.owner_id == user_id, Collection.visibility == "public", Collection.id.in_(shared))


def writable(user_id: int, master: bool = False) -> ColumnElement[bool]:
    """Collections `user_id` may change: their own (any readable one for the master, on the h2oGPTe
    library's document and template routes, which let an administrator tidy up)."""
    return true() if master else Collection.owner_id == user_id


async def readable_ids(session: AsyncSession, user_id: int, wanted: list[int] | None) -> list[int]:
    """The ids among `wanted` (all when None or empty) of the collections the user may read."""
    stmt = select(Collection.id).where(readable(user_id))
    if wanted:
        stmt = stmt.where(Collection.id.in_(wanted))
    return list((await session.scalars(stmt)).all())


async def readable_versions(
    session: AsyncSession, user_id: int, wanted: list[int] | None
) -> dict[int, tuple[int, int]]:
    """`readable_ids` with each collection's cache version (`repository.vector_versions`), in one read:
    a search checks access and finds its cached indexes current with one statement."""
    stmt = select(Collection.id, Collection.created, Collection.vectors_version).where(readable(user_id))
    if wanted:
        stmt = stmt.where(Collection.id.in_(wanted))
    return {row[0]: (row[1], row[2]) for row in await session.execute(stmt)}


async def readable_collection(session: AsyncSession, principal: Principal, collection_id: int) -> Collection:
    """The collection, if the caller may read it; else 404."""
    collection, _ = await _collection(session, principal, collection_id, master=False)
    return collection


async def writable_collection(
    session: AsyncSession, principal: Principal, collection_id: int, master: bool = False
) -> Collection:
    """The collection, if the caller may change it: 404 if they cannot read it, 403 if they only can."""
    collection, mine = await _collection(session, principal, collection_id, master)
    if not mine:
        raise PermissionDenied(f"Collection {collection_id} is not yours: it is read-only for you.")
    return collection


async def _collection(
    session: AsyncSession, principal: Principal, collection_id: int, master: bool
) -> tuple[Collection, bool]:
    stmt = select(Collection, writable(principal.user_id, master and principal.is_master)).where(
        Collection.id == collection_id, readable(principal.user_id)
    )
    row = (await session.execute(stmt)).first()
    if row is None:  # absent, or another user's private collection: both look absent
        raise NotFound(f"Collection {collection_id} not found.")
    return row[0], bool(row[1])


async def accessible_document(
    session: AsyncSession, principal: Principal, document_id: int, write: bool = False
) -> Document:
    """The document, if the caller may read (or with `write`, change) its collection: 404 when they
    cannot read it, 403 when they may only read it."""
    document = await session.get(Document, document_id)
    if document is None:
        raise NotFound(f"Document {document_id} not found.")
    try:
        if write:
            await writable_collection(session, principal, document.collection_id)
        else:
            await readable_collection(session, principal, document.collection_id)
    except NotFound as exc:
        raise NotFound(f"Document {document_id} not found.") from exc
    return document
