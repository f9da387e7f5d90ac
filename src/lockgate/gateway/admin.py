"""Rules of router and provider administration (OpenGateLLM's /v1/admin/routers and /providers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.errors import (
    Conflict,
    FailedDependency,
    InvalidRequest,
    NotFound,
    UpstreamError,
    UpstreamTimeout,
)
from lockgate.gateway import repository
from lockgate.gateway.egress import EgressPolicy
from lockgate.gateway.health import health_of
from lockgate.gateway.models import Provider, Router
from lockgate.gateway.providers.base import ProbeMismatch, ProviderAddressRefused, ProviderConfig
from lockgate.gateway.providers.registry import ADAPTERS
from lockgate.gateway.registry import ModelRegistry, build_adapter
from lockgate.gateway.schemas import ModelType, ProbeResult, ProviderHealth, ProviderView, RouterView
from lockgate.inference.engines import LocalEngines
from lockgate.kit.clock import now_ts
from lockgate.kit.crypto import SecretBox, mask_secret
from lockgate.kit.db import Database
from lockgate.kit.pagination import Page


def router_view(router: Router, providers: int) -> RouterView:
    return RouterView(
        id=router.id,
        name=router.name,
        user_id=router.user_id,
        type=router.type,
        aliases=[a.alias for a in router.aliases],
        load_balancing_strategy=router.load_balancing_strategy,
        vector_size=router.vector_size,
        max_context_length=router.max_context_length,
        cost_prompt_tokens=router.cost_prompt_tokens,
        cost_completion_tokens=router.cost_completion_tokens,
        providers=providers,
        created=router.created,
        updated=router.updated,
    )


def check_provider_fits(provider_type: str, model_type: str) -> None:
    adapter = ADAPTERS[provider_type]
    if ModelType(model_type) not in adapter.model_types:
        supported = ", ".join(sorted(t.value for t in adapter.model_types))
        raise InvalidRequest(
            f"type: a '{provider_type}' provider cannot serve a '{model_type}' router "
            f"(it serves: {supported}).",
            param="type",
        )


async def probe_provider(
    config: ProviderConfig,
    model_type: str,
    engines: LocalEngines | None = None,
    egress: EgressPolicy | None = None,
) -> ProbeResult:
    """Ask the upstream what it is. A refused address is 422 (`url`); an unreachable or wrong upstream
    424, saying what failed but never what the target answered (the URL may not be a model server)."""
    adapter = build_adapter(config, engines, egress=egress)
    try:
        return await adapter.probe(ModelType(model_type))
    except ProviderAddressRefused as exc:
        raise InvalidRequest(f"url: {exc.message}", param="url") from exc
    except UpstreamError as exc:
        raise FailedDependency(f"Provider check failed: {_probe_failure(config, exc)}") from exc
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise FailedDependency(f"Provider check failed: unexpected answer from {config.url}.") from exc
    finally:
        await adapter.aclose()


def _probe_failure(config: ProviderConfig, exc: UpstreamError) -> str:
    if config.type == "local" or isinstance(exc, ProbeMismatch):
        return exc.message  # our own words, nothing read from a remote target
    if isinstance(exc, UpstreamTimeout):
        return f"{config.url} timed out."
    if exc.upstream_status is not None:
        return f"{config.url} answered HTTP {exc.upstream_status}."
    return f"{config.url} is unreachable or sent an unusable answer."


class GatewayAdmin:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        registry: ModelRegistry,
        on_change: Callable[[], None] | None = None,
    ):
        self._on_change = on_change
        self._db = db
        self.box = box
        self._registry = registry

    # -- routers -----------------------------------------------------------------------------------

    async def create_router(self, user_id: int | None, fields: dict[str, Any]) -> RouterView:
        aliases = fields.pop("aliases", None) or []
        async with self._db.transaction() as session:
            await self._check_names_free(session, [fields["name"], *aliases])
            router = Router(**fields, user_id=user_id)
            repository.set_aliases(router, aliases)
            try:
                await repository.add(session, router)
            except IntegrityError as exc:
                raise Conflict(f"A model named '{fields['name']}' already exists.", param="name") from exc
            view = router_view(router, 0)
        await self._registry.refresh()
        return view

    async def list_routers(self, page: Page) -> tuple[list[RouterView], int]:
        async with self._db.transaction() as session:
            rows, total = await repository.list_routers(session, page)
            counts = await repository.count_providers(session, [r.id for r in rows])
            return [router_view(r, counts.get(r.id, 0)) for r in rows], total

    async def get_router(self, router_id: int) -> RouterView:
        async with self._db.transaction() as session:
            router = await self._router(session, router_id)
            counts = await repository.count_providers(session, [router.id])
            return router_view(router, counts.get(router.id, 0))

    async def update_router(self, router_id: int, changes: dict[str, Any]) -> None:
        async with self._db.transaction() as session:
            router = await self._router(session, router_id)
            new_names = [n for n in [changes.get("name"), *(changes.get("aliases") or [])] if n]
            await self._check_names_free(session, new_names, except_router=router.id)
            if changes.get("type") is not None and changes["type"] != router.type:
                for provider in await repository.list_providers(session, Page(limit=1000), router.id):
                    check_provider_fits(provider.type, changes["type"])
            for field in (
                "name",
                "type",
                "load_balancing_strategy",
                "cost_prompt_tokens",
                "cost_completion_tokens",
            ):
                if changes.get(field) is not None:
                    setattr(router, field, changes[field])
            if changes.get("aliases") is not None:
                router.aliases.clear()
                await session.flush()
                repository.set_aliases(router, changes["aliases"])
            router.updated = bump(router.updated)
        await self._registry.refresh()

    async def delete_router(self, router_id: int) -> None:
        async with self._db.transaction() as session:
            router = await self._router(session, router_id)
            await repository.delete_providers_of(session, router.id)
            await session.delete(router)
        await self._registry.refresh()
        if self._on_change is not None:  # cached principals carry limits on this router
            self._on_change()

    @staticmethod
    async def _router(session: AsyncSession, router_id: int) -> Router:
        router = await repository.get_router(session, router_id)
        if router is None:
            raise NotFound(f"Router {router_id} not found.")
        return router

    @staticmethod
    async def _check_names_free(
        session: AsyncSession, names: list[str], except_router: int | None = None
    ) -> None:
        if len(set(names)) != len(names):
            raise InvalidRequest("aliases: a name or alias is repeated.", param="aliases")
        taken = await repository.names_taken(session, names, except_router)
        if taken:
            raise Conflict(f"Already used as a model name or alias: {', '.join(taken)}.", param="name")

    # -- providers ---------------------------------------------------------------------------------

    def provider_view(self, row: Provider) -> ProviderView:
        key = self.box.decrypt(row.key_encrypted) if row.key_encrypted else None
        return ProviderView(
            id=row.id,
            router_id=row.router_id,
            user_id=row.user_id,
            type=row.type,
            url=row.url,
            key=mask_secret(key),
            timeout=row.timeout,
            model_name=row.model_name,
            model_hosting_zone=row.model_hosting_zone,
            model_total_params=row.model_total_params,
            model_active_params=row.model_active_params,
            qos_metric=row.qos_metric,
            qos_limit=row.qos_limit,
            created=row.created,
            updated=row.updated,
            health=self._health(row.id),
        )

    def _health(self, provider_id: int) -> ProviderHealth | None:
        runtime = self._registry.provider(provider_id)
        return health_of(runtime.stats) if runtime is not None else None

    async def create_provider(self, user_id: int | None, fields: dict[str, Any]) -> ProviderView:
        router_id = fields.pop("router")
        key = fields.pop("key", None)
        fields["url"] = fields["url"].rstrip("/")
        async with self._db.transaction() as session:
            router = await self._router(session, router_id)
            router_type = router.type
            if await repository.provider_exists(session, router_id, fields["url"], fields["model_name"]):
                raise Conflict("This router already has a provider with that url and model_name.")
        check_provider_fits(fields["type"], router_type)
        config = ProviderConfig(
            fields["type"], fields["url"], key, fields["model_name"], float(fields["timeout"]), guarded=True
        )
        probe = await probe_provider(
            config, router_type, self._registry.engines, self._registry.egress
        )  # no transaction held while we wait on the upstream
        async with self._db.transaction() as session:
            router = await self._router(session, router_id)
            row = Provider(
                **fields,
                router_id=router_id,
                user_id=user_id,
                key_encrypted=self.box.encrypt(key) if key else None,
            )
            try:
                await repository.add(session, row)
            except IntegrityError as exc:
                raise Conflict("This router already has a provider with that url and model_name.") from exc
            _apply_probe(router, probe)
            view = self.provider_view(row)
        await self._registry.refresh()
        return replace(view, health=self._health(view.id))

    async def list_providers(self, page: Page, router_id: int | None) -> list[ProviderView]:
        async with self._db.transaction() as session:
            return [self.provider_view(p) for p in await repository.list_providers(session, page, router_id)]

    async def get_provider(self, provider_id: int) -> ProviderView:
        async with self._db.transaction() as session:
            return self.provider_view(await self._provider(session, provider_id))

    async def update_provider(self, provider_id: int, changes: dict[str, Any]) -> None:
        async with self._db.transaction() as session:
            row = await self._provider(session, provider_id)
            if changes.get("router") is not None and changes["router"] != row.router_id:
                target = await self._router(session, changes["router"])
                check_provider_fits(row.type, target.type)
                row.router_id = target.id
            for field in ("timeout", "model_hosting_zone", "model_total_params", "model_active_params"):
                if changes.get(field) is not None:
                    setattr(row, field, changes[field])
            for field in ("qos_metric", "qos_limit"):
                if field in changes:
                    setattr(row, field, changes[field])
            if (row.qos_metric is None) != (row.qos_limit is None):
                raise InvalidRequest(
                    "qos_metric and qos_limit go together: set both or neither.", param="qos_limit"
                )
            row.updated = bump(row.updated)
            try:
                await session.flush()
            except IntegrityError as exc:
                raise Conflict(
                    "The target router already has a provider with that url and model_name."
                ) from exc
        await self._registry.refresh()

    async def delete_provider(self, provider_id: int) -> None:
        async with self._db.transaction() as session:
            await session.delete(await self._provider(session, provider_id))
        await self._registry.refresh()

    @staticmethod
    async def _provider(session: AsyncSession, provider_id: int) -> Provider:
        row = await repository.get_provider(session, provider_id)
        if row is None:
            raise NotFound(f"Provider {provider_id} not found.")
        return row


def bump(updated: int) -> int:
    """A strictly newer timestamp, so other replicas' change stamps move even for same-second edits."""
    return max(now_ts(), updated + 1)


def _apply_probe(router: Router, probe: ProbeResult) -> None:
    if probe.max_context_length:
        router.max_context_length = (
            min(router.max_context_length, probe.max_context_length)
            if router.max_context_length
            else probe.max_context_length
        )
    if probe.vector_size:
        router.vector_size = probe.vector_size
