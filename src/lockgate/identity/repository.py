"""All SQL of the identity domain."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from sqlalchemy import Select, column, delete, func, select, table, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.identity.models import ApiKey, Organization, Role, RoleLimit, RolePermission, User
from lockgate.identity.schemas import KeyKind
from lockgate.kit.pagination import Page, paginate

# -- organizations ---------------------------------------------------------------------------------

RowT = TypeVar("RowT")


async def add(session: AsyncSession, row: RowT) -> RowT:
    session.add(row)
    await session.flush()
    return row


async def get_organization(session: AsyncSession, organization_id: int) -> Organization | None:
    return await session.get(Organization, organization_id)


async def list_organizations(session: AsyncSession, page: Page) -> list[Organization]:
    return list((await session.scalars(paginate(select(Organization), Organization, page))).all())


async def organization_name_taken(session: AsyncSession, name: str, except_id: int | None = None) -> bool:
    stmt = select(Organization.id).where(Organization.name == name)
    if except_id is not None:
        stmt = stmt.where(Organization.id != except_id)
    return (await session.scalar(stmt)) is not None


async def count_users_by(session: AsyncSession, column: Any, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = await session.execute(select(column, func.count(User.id)).where(column.in_(ids)).group_by(column))
    return {row[0]: row[1] for row in rows}


# -- roles -----------------------------------------------------------------------------------------


async def get_role(session: AsyncSession, role_id: int) -> Role | None:
    return await session.get(Role, role_id)


async def get_role_by_name(session: AsyncSession, name: str) -> Role | None:
    return await session.scalar(select(Role).where(Role.name == name))


async def list_roles(session: AsyncSession, page: Page) -> list[Role]:
    return list((await session.scalars(paginate(select(Role), Role, page))).all())


async def role_name_taken(session: AsyncSession, name: str, except_id: int | None = None) -> bool:
    stmt = select(Role.id).where(Role.name == name)
    if except_id is not None:
        stmt = stmt.where(Role.id != except_id)
    return (await session.scalar(stmt)) is not None


# The one cross-domain read: limits name routers. The gateway's table is named, not imported (the
# gateway depends on identity through accounting; role_limits.router_id already references it by name).
_ROUTERS = table("routers", column("id"))


async def missing_routers(session: AsyncSession, router_ids: set[int]) -> list[int]:
    if not router_ids:
        return []
    found = set((await session.scalars(select(_ROUTERS.c.id).where(_ROUTERS.c.id.in_(router_ids)))).all())
    return sorted(router_ids - found)


def set_role_permissions(role: Role, permissions: list[str]) -> None:
    role.permissions = [RolePermission(permission=p) for p in sorted(set(permissions))]


def set_role_limits(role: Role, limits: list[dict[str, Any]]) -> None:
    role.limits = [RoleLimit(router_id=lim["router"], type=lim["type"], value=lim["value"]) for lim in limits]


# -- users -----------------------------------------------------------------------------------------


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(func.lower(User.email) == email.lower()))


async def get_master_user(session: AsyncSession) -> User | None:
    return await session.scalar(select(User).where(User.is_master.is_(True)).order_by(User.id).limit(1))


async def email_taken(session: AsyncSession, email: str, except_id: int | None = None) -> bool:
    stmt = select(User.id).where(func.lower(User.email) == email.lower())
    if except_id is not None:
        stmt = stmt.where(User.id != except_id)
    return (await session.scalar(stmt)) is not None


async def list_users(
    session: AsyncSession,
    page: Page,
    role_id: int | None = None,
    organization_id: int | None = None,
    email: str | None = None,
) -> list[User]:
    stmt = select(User)
    if role_id is not None:
        stmt = stmt.where(User.role_id == role_id)
    if organization_id is not None:
        stmt = stmt.where(User.organization_id == organization_id)
    if email is not None:
        stmt = stmt.where(func.lower(User.email) == email.lower())
    return list((await session.scalars(paginate(stmt, User, page))).all())


# -- api keys --------------------------------------------------------------------------------------


async def get_key(session: AsyncSession, key_id: int) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def list_keys(
    session: AsyncSession, page: Page, user_id: int | None = None, kinds: tuple[str, ...] = ("api",)
) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.kind.in_(kinds))
    if user_id is not None:
        stmt = stmt.where(ApiKey.user_id == user_id)
    return list((await session.scalars(paginate(stmt, ApiKey, page))).all())


async def delete_keys_of(session: AsyncSession, user_id: int, kind: str) -> list[str]:
    """Delete a user's keys of one kind; returns their hashes so caches can forget them."""
    hashes = list(
        (
            await session.scalars(
                select(ApiKey.key_hash).where(ApiKey.user_id == user_id, ApiKey.kind == kind)
            )
        ).all()
    )
    await session.execute(delete(ApiKey).where(ApiKey.user_id == user_id, ApiKey.kind == kind))
    return hashes


async def delete_key_by_hash(session: AsyncSession, key_hash: str, kind: str) -> bool:
    """Delete the key of one kind with this hash; whether there was one."""
    result = await session.execute(delete(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.kind == kind))
    return bool(cast("CursorResult[Any]", result).rowcount)


async def key_hashes_of_user(session: AsyncSession, user_id: int, kind: str) -> list[str]:
    stmt = select(ApiKey.key_hash).where(ApiKey.user_id == user_id, ApiKey.kind == kind)
    return list((await session.scalars(stmt)).all())


def _principal_rows() -> Select[ApiKey, User, Role]:
    return (
        select(ApiKey, User, Role).join(User, User.id == ApiKey.user_id).join(Role, Role.id == User.role_id)
    )


async def load_principal_rows(session: AsyncSession, key_hash: str) -> tuple[ApiKey, User, Role] | None:
    """The key, its user and the user's role, in one round trip."""
    row = (await session.execute(_principal_rows().where(ApiKey.key_hash == key_hash))).first()
    return None if row is None else (row[0], row[1], row[2])


async def master_principal_rows(session: AsyncSession) -> list[tuple[ApiKey, User, Role]]:
    """The master key rows (stored salted: they cannot be found by hash), with user and role."""
    rows = await session.execute(_principal_rows().where(ApiKey.kind == KeyKind.MASTER.value))
    return [(r[0], r[1], r[2]) for r in rows]


async def set_key_hash(session: AsyncSession, key_id: int, key_hash: str) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(key_hash=key_hash))


async def load_principal_rows_by_key_id(
    session: AsyncSession, key_id: int
) -> tuple[ApiKey, User, Role] | None:
    """As load_principal_rows, by the key's id (a job acting for the key that submitted it)."""
    row = (await session.execute(_principal_rows().where(ApiKey.id == key_id))).first()
    return None if row is None else (row[0], row[1], row[2])
