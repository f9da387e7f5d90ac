"""The SQL of the document library: collection summaries, shares, documents that live in several
collections (copies keep their `origin_id`), tags and uploads. Access is always `access.readable`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.identity.models import User
from lockgate.kit.pagination import Page, paginate
from lockgate.rag.access import readable, writable
from lockgate.rag.models import Chunk, Collection, CollectionShare, Document, DocumentTag, Tag, Upload

CollectionRow = tuple[Collection, int, int, int, str]
"""A collection summary: the collection, its documents, their bytes, its shares, its owner's email."""

ROOT = func.coalesce(Document.origin_id, Document.id)
"""The public id of a document: the id of the document a copy came from, else its own."""


# -- collections -----------------------------------------------------------------------------------


def _collection_rows(user_id: int, name: str | None, mine_only: bool) -> Any:
    docs = (
        select(
            Document.collection_id,
            func.count(Document.id).label("n"),
            func.coalesce(func.sum(Document.size), 0).label("size"),
        )
        .group_by(Document.collection_id)
        .subquery()
    )
    shares = (
        select(CollectionShare.collection_id, func.count(CollectionShare.user_id).label("n"))
        .group_by(CollectionShare.collection_id)
        .subquery()
    )
    stmt = (
        select(
            Collection,
            func.coalesce(docs.c.n, 0),
            func.coalesce(docs.c.size, 0),
            func.coalesce(shares.c.n, 0),
            User.email,
        )
        .join(User, User.id == Collection.owner_id)
        .outerjoin(docs, docs.c.collection_id == Collection.id)
        .outerjoin(shares, shares.c.collection_id == Collection.id)
        .where(readable(user_id))
    )
    if name:
        stmt = stmt.where(Collection.name.contains(name, autoescape=True))
    if mine_only:
        stmt = stmt.where(Collection.owner_id == user_id)
    return stmt


async def collection_rows(
    session: AsyncSession,
    user_id: int,
    page: Page | None,
    name: str | None = None,
    mine_only: bool = False,
    ids: list[int] | None = None,
) -> list[CollectionRow]:
    stmt = _collection_rows(user_id, name, mine_only)
    if ids is not None:
        stmt = stmt.where(Collection.id.in_(ids))
    if page is not None:
        stmt = paginate(stmt, Collection, page)
    return [(c, docs, size, shares, owner) for c, docs, size, shares, owner in await session.execute(stmt)]


async def count_collections(session: AsyncSession, user_id: int) -> int:
    return await session.scalar(select(func.count(Collection.id)).where(readable(user_id))) or 0


async def shares(session: AsyncSession, collection_id: int) -> list[str]:
    stmt = (
        select(User.email)
        .join(CollectionShare, CollectionShare.user_id == User.id)
        .where(CollectionShare.collection_id == collection_id)
        .order_by(User.email)
    )
    return list((await session.scalars(stmt)).all())


async def unshare(session: AsyncSession, collection_id: int, user_id: int | None) -> None:
    stmt = delete(CollectionShare).where(CollectionShare.collection_id == collection_id)
    if user_id is not None:
        stmt = stmt.where(CollectionShare.user_id == user_id)
    await session.execute(stmt)


# -- documents -------------------------------------------------------------------------------------


def _document_rows(user_id: int) -> Any:
    return (
        select(Document, User.email)
        .join(Collection, Collection.id == Document.collection_id)
        .join(User, User.id == Collection.owner_id)
        .where(readable(user_id))
    )


async def documents(
    session: AsyncSession, user_id: int, page: Page, collection_id: int | None, mine_only: bool = False
) -> list[tuple[Document, str]]:
    """Readable documents, one row per public id (the oldest readable copy) unless in one collection."""
    stmt = _document_rows(user_id)
    if collection_id is not None:
        stmt = stmt.where(Document.collection_id == collection_id)
    else:
        first = (
            select(func.min(Document.id))
            .join(Collection, Collection.id == Document.collection_id)
            .where(readable(user_id))
            .group_by(ROOT)
        )
        stmt = stmt.where(Document.id.in_(first))
    if mine_only:
        stmt = stmt.where(Collection.owner_id == user_id)
    return [(row[0], row[1]) for row in await session.execute(paginate(stmt, Document, page))]


async def count_documents(
    session: AsyncSession, user_id: int, collection_id: int | None, mine_only: bool = False
) -> int:
    stmt = (
        select(func.count(func.distinct(ROOT)))
        .join(Collection, Collection.id == Document.collection_id)
        .where(readable(user_id))
    )
    if collection_id is not None:
        stmt = stmt.where(Document.collection_id == collection_id)
    if mine_only:
        stmt = stmt.where(Collection.owner_id == user_id)
    return await session.scalar(stmt) or 0


async def copies(
    session: AsyncSession, user_id: int, root: int, master: bool = False
) -> list[tuple[Document, str, bool]]:
    """Every readable row of one public document, oldest first, with its collection owner's email and
    whether the user may change it (`access.writable`)."""
    stmt = _document_rows(user_id).add_columns(writable(user_id, master))
    stmt = stmt.where(ROOT == root).order_by(Document.id)
    return [(row[0], row[1], bool(row[2])) for row in await session.execute(stmt)]


async def copy_in(session: AsyncSession, collection_id: int, root: int) -> Document | None:
    stmt = select(Document).where(Document.collection_id == collection_id, ROOT == root)
    return await session.scalar(stmt)


async def chunks_in(session: AsyncSession, collection_id: int, ids: list[int]) -> dict[int, Chunk]:
    """The chunks of the collection among `ids`, by id."""
    stmt = select(Chunk).where(Chunk.collection_id == collection_id, Chunk.id.in_(set(ids)))
    return {c.id: c for c in (await session.scalars(stmt)).all()}


async def chunks_of(session: AsyncSession, document_id: int) -> list[Chunk]:
    stmt = select(Chunk).where(Chunk.document_id == document_id).order_by(Chunk.position)
    return list((await session.scalars(stmt)).all())


async def uploads_of(session: AsyncSession, owner_id: int) -> list[int]:
    stmt = select(Upload.id).where(Upload.owner_id == owner_id).order_by(Upload.id)
    return list((await session.scalars(stmt)).all())


async def questions(session: AsyncSession, collection_id: int) -> list[list[str] | None]:
    stmt = select(Document.questions).where(Document.collection_id == collection_id).order_by(Document.id)
    return list((await session.scalars(stmt)).all())


# -- tags ------------------------------------------------------------------------------------------


async def tag_by_name(session: AsyncSession, owner_id: int, name: str) -> Tag | None:
    return await session.scalar(select(Tag).where(Tag.owner_id == owner_id, Tag.name == name))


async def tags(session: AsyncSession, owner_id: int, linked_only: bool) -> list[Tag]:
    stmt = select(Tag).where(Tag.owner_id == owner_id).order_by(Tag.name)
    if linked_only:
        stmt = stmt.where(Tag.id.in_(select(DocumentTag.tag_id)))
    return list((await session.scalars(stmt)).all())


async def tag_documents(session: AsyncSession, tag_id: int, document_ids: list[int]) -> None:
    present = set(
        (
            await session.scalars(
                select(DocumentTag.document_id).where(
                    DocumentTag.tag_id == tag_id, DocumentTag.document_id.in_(document_ids)
                )
            )
        ).all()
    )
    session.add_all(DocumentTag(document_id=d, tag_id=tag_id) for d in document_ids if d not in present)


async def untag_documents(session: AsyncSession, tag_id: int, document_ids: list[int]) -> None:
    await session.execute(
        delete(DocumentTag).where(DocumentTag.tag_id == tag_id, DocumentTag.document_id.in_(document_ids))
    )


async def tag_ids_of(session: AsyncSession, document_id: int) -> list[int]:
    stmt = select(DocumentTag.tag_id).where(DocumentTag.document_id == document_id)
    return list((await session.scalars(stmt)).all())


async def tagged_documents(
    session: AsyncSession, user_id: int, tag_ids: list[int], collection_id: int
) -> list[tuple[Document, str]]:
    tagged = select(DocumentTag.document_id).where(DocumentTag.tag_id.in_(tag_ids))
    stmt = (
        _document_rows(user_id)
        .where(Document.collection_id == collection_id, or_(Document.id.in_(tagged)))
        .order_by(Document.id)
    )
    return [(row[0], row[1]) for row in await session.execute(stmt)]
