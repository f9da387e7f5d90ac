"""All SQL of the gateway domain."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.gateway.models import Provider, Router, RouterAlias
from lockgate.kit.pagination import Page, paginate

RowT = TypeVar("RowT")


async def load_all(session: AsyncSession) -> list[tuple[Router, list[Provider]]]:
    routers = list((await session.scalars(select(Router).order_by(Router.id))).all())
    providers = list((await session.scalars(select(Provider).order_by(Provider.id))).all())
    by_router: dict[int, list[Provider]] = {}
    for provider in providers:
        by_router.setdefault(provider.router_id, []).append(provider)
    return [(router, by_router.get(router.id, [])) for router in routers]


async def change_stamp(session: AsyncSession) -> tuple[Any, ...]:
    """Cheap fingerprint of the routing tables: changes whenever a router or provider does."""
    routers = (await session.execute(select(func.count(Router.id), func.max(Router.updated)))).one()
    providers = (await session.execute(select(func.count(Provider.id), func.max(Provider.updated)))).one()
    aliases = await session.scalar(select(func.count()).select_from(RouterAlias))
    return (*routers, *providers, aliases)


async def get_router(session: AsyncSession, router_id: int) -> Router | None:
    return await session.get(Router, router_id)


async def get_router_by_name(session: AsyncSession, name: str) -> Router | None:
    return await session.scalar(select(Router).where(Router.name == name))


async def list_routers(session: AsyncSession, page: Page) -> tuple[list[Router], int]:
    total = await session.scalar(select(func.count(Router.id))) or 0
    rows = list((await session.scalars(paginate(select(Router), Router, page))).all())
    return rows, total


async def names_taken(session: AsyncSession, names: list[str], except_router: int | None = None) -> list[str]:
    """Which of `names` are already a router name or alias (of another router)."""
    if not names:
        return []
    by_name = select(Router.name).where(Router.name.in_(names))
    by_alias = select(RouterAlias.alias).where(RouterAlias.alias.in_(names))
    if except_router is not None:
        by_name = by_name.where(Router.id != except_router)
        by_alias = by_alias.where(RouterAlias.router_id != except_router)
    taken = set((await session.scalars(by_name)).all()) | set((await session.scalars(by_alias)).all())
    return sorted(taken)


def set_aliases(router: Router, aliases: list[str]) -> None:
    router.aliases = [RouterAlias(alias=a) for a in dict.fromkeys(aliases)]


async def count_providers(session: AsyncSession, router_ids: list[int]) -> dict[int, int]:
    if not router_ids:
        return {}
    rows = await session.execute(
        select(Provider.router_id, func.count(Provider.id))
        .where(Provider.router_id.in_(router_ids))
        .group_by(Provider.router_id)
    )
    return {row[0]: row[1] for row in rows}


async def get_provider(session: AsyncSession, provider_id: int) -> Provider | None:
    return await session.get(Provider, provider_id)


async def list_providers(session: AsyncSession, page: Page, router_id: int | None) -> list[Provider]:
    stmt = select(Provider)
    if router_id is not None:
        stmt = stmt.where(Provider.router_id == router_id)
    return list((await session.scalars(paginate(stmt, Provider, page))).all())


async def providers_of(session: AsyncSession, router_id: int) -> list[Provider]:
    return list((await session.scalars(select(Provider).where(Provider.router_id == router_id))).all())


async def provider_exists(session: AsyncSession, router_id: int, url: str, model_name: str) -> bool:
    stmt = select(Provider.id).where(
        Provider.router_id == router_id, Provider.url == url, Provider.model_name == model_name
    )
    return (await session.scalar(stmt)) is not None


async def config_routers(session: AsyncSession) -> list[Router]:
    return list((await session.scalars(select(Router).where(Router.from_config.is_(True)))).all())


async def delete_providers_of(session: AsyncSession, router_id: int) -> None:
    await session.execute(delete(Provider).where(Provider.router_id == router_id))


async def add(session: AsyncSession, row: RowT) -> RowT:
    session.add(row)
    await session.flush()
    return row


async def store_probe(
    session: AsyncSession, router_id: int, max_context_length: int | None, vector_size: int | None
) -> None:
    """Record what probing found, without moving `updated` (that would look like an admin change)."""
    values: dict[str, Any] = {"updated": Router.updated}
    if max_context_length:
        values["max_context_length"] = max_context_length
    if vector_size:
        values["vector_size"] = vector_size
    await session.execute(update(Router).where(Router.id == router_id).values(**values))
