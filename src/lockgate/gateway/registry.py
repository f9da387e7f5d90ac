"""The in-memory model registry: routers by name and alias, each with live providers.

Built from the database at startup and rebuilt after every admin change (and periodically, to pick up
changes made on other replicas). The request path reads only this, never the database."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Coroutine
from typing import Any

import aiohttp

from lockgate.errors import UpstreamError
from lockgate.gateway import health, repository
from lockgate.gateway.bounds import UpstreamBounds
from lockgate.gateway.egress import EgressPolicy, GuardedConnector
from lockgate.gateway.providers.base import ProviderAdapter, ProviderConfig
from lockgate.gateway.providers.local import LocalAdapter
from lockgate.gateway.providers.registry import ADAPTERS
from lockgate.gateway.runtime import ProviderRuntime, RouterRuntime
from lockgate.gateway.schemas import ENDPOINT_MODEL_TYPES, Endpoint, ModelType, ProbeResult
from lockgate.inference.engines import LocalEngines
from lockgate.kit.crypto import SecretBox
from lockgate.kit.db import Database


def build_client(
    config: ProviderConfig,
    headers: dict[str, str] | None = None,
    egress: EgressPolicy | None = None,
    trace_configs: list[aiohttp.TraceConfig] | None = None,
) -> aiohttp.ClientSession:
    """One pooled client per provider, kept for the provider's life (aiohttp: see ADR 0008).
    `headers`: the provider's auth headers (default: the key as a Bearer token). A guarded provider
    (added through the API) connects only where `egress` permits (default: public addresses).
    `trace_configs`: request hooks (the trace context sent upstream when tracing is on)."""
    if headers is None:
        headers = {"Authorization": f"Bearer {config.key}"} if config.key else {}
    pool: dict[str, Any] = {"limit": 1000, "keepalive_timeout": 60, "enable_cleanup_closed": True}
    connector = (
        GuardedConnector(egress or EgressPolicy(), **pool) if config.guarded else aiohttp.TCPConnector(**pool)
    )
    return aiohttp.ClientSession(
        headers=headers,
        timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=min(10.0, config.timeout), sock_read=config.timeout
        ),
        connector=connector,
        auto_decompress=True,
        raise_for_status=False,
        trace_configs=trace_configs,
    )


def build_adapter(
    config: ProviderConfig,
    engines: LocalEngines | None = None,
    bounds: UpstreamBounds | None = None,
    egress: EgressPolicy | None = None,
    trace_configs: list[aiohttp.TraceConfig] | None = None,
) -> ProviderAdapter:
    if config.type == "local":
        return LocalAdapter(config, engines.get(config.url) if engines else None)
    adapter = ADAPTERS[config.type]
    auth = getattr(adapter, "auth_headers", None)
    client = build_client(config, auth(config.key) if auth else None, egress, trace_configs)
    return adapter(config, client, bounds)


class ModelRegistry:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        retry_seconds: float = 15.0,
        engines: LocalEngines | None = None,
        bounds: UpstreamBounds | None = None,
        egress: EgressPolicy | None = None,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
    ):
        self.engines = engines
        self.trace_configs = trace_configs
        self.bounds = bounds or UpstreamBounds()
        self.egress = egress or EgressPolicy()
        self._db = db
        self._box = box
        self._retry_seconds = retry_seconds
        self._by_name: dict[str, RouterRuntime] = {}
        self._routers: list[RouterRuntime] = []
        self._providers: dict[int, ProviderRuntime] = {}
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stamp: tuple[Any, ...] | None = None

    # -- reads on the hot path ---------------------------------------------------------------------

    def resolve(self, name: str) -> RouterRuntime | None:
        return self._by_name.get(name)

    def routers(self) -> list[RouterRuntime]:
        return self._routers

    def default_chat_model(self) -> str | None:
        """The model to use when a caller names none (h2oGPTe chat, document summaries): the first chat
        model with a healthy provider, else the first chat model at all."""
        chat = [r for r in self._routers if r.type in ENDPOINT_MODEL_TYPES[Endpoint.CHAT]]
        healthy = [r for r in chat if any(p.stats.healthy for p in r.providers)]
        return (healthy or chat)[0].name if chat else None

    def chat_model_names(self) -> list[str]:
        """The chat models, in the registry's order (h2oGPTe clients may name one by its index)."""
        return [r.name for r in self._routers if r.type in ENDPOINT_MODEL_TYPES[Endpoint.CHAT]]

    def router_by_id(self, router_id: int) -> RouterRuntime | None:
        return next((r for r in self._routers if r.id == router_id), None)

    def provider(self, provider_id: int) -> ProviderRuntime | None:
        return self._providers.get(provider_id)

    def _model_of(self, runtime: ProviderRuntime) -> str:
        router = self.router_by_id(runtime.router_id)
        return router.name if router is not None else str(runtime.router_id)

    # -- (re)building ------------------------------------------------------------------------------

    async def refresh(self, probe_new: bool = False) -> None:
        """Rebuild from the database, keeping live stats and clients of unchanged providers."""
        async with self._lock:
            async with self._db.transaction() as session:
                rows = await repository.load_all(session)
                self._stamp = await repository.change_stamp(session)
            routers: list[RouterRuntime] = []
            keep: dict[int, ProviderRuntime] = {}
            fresh: list[tuple[ProviderRuntime, ModelType]] = []
            for router, providers in rows:
                runtimes = []
                for row in providers:
                    config = ProviderConfig(
                        type=row.type,
                        url=row.url,
                        key=self._box.decrypt(row.key_encrypted) if row.key_encrypted else None,
                        model_name=row.model_name,
                        timeout=float(row.timeout),
                        # the config file's providers are the operator's; the API's are guarded
                        guarded=not row.from_config,
                    )
                    old = self._providers.get(row.id)
                    if old is not None and old.config == config:
                        runtime = old
                        runtime.qos_metric, runtime.qos_limit = row.qos_metric, row.qos_limit
                        runtime.hosting_zone = row.model_hosting_zone
                        runtime.total_params, runtime.active_params = (
                            row.model_total_params,
                            row.model_active_params,
                        )
                    else:
                        runtime = ProviderRuntime(
                            id=row.id,
                            router_id=router.id,
                            config=config,
                            adapter=build_adapter(
                                config, self.engines, self.bounds, self.egress, self.trace_configs
                            ),
                            qos_metric=row.qos_metric,
                            qos_limit=row.qos_limit,
                            hosting_zone=row.model_hosting_zone,
                            total_params=row.model_total_params,
                            active_params=row.model_active_params,
                        )
                        fresh.append((runtime, ModelType(router.type)))
                    keep[row.id] = runtime
                    runtimes.append(runtime)
                routers.append(
                    RouterRuntime(
                        id=router.id,
                        name=router.name,
                        type=ModelType(router.type),
                        aliases=[a.alias for a in router.aliases],
                        strategy=router.load_balancing_strategy,
                        cost_prompt_tokens=router.cost_prompt_tokens,
                        cost_completion_tokens=router.cost_completion_tokens,
                        max_context_length=router.max_context_length,
                        vector_size=router.vector_size,
                        created=router.created,
                        providers=runtimes,
                    )
                )
            gone = [p for pid, p in self._providers.items() if pid not in keep]
            by_name: dict[str, RouterRuntime] = {}
            for runtime_router in routers:
                by_name[runtime_router.name] = runtime_router
                for alias in runtime_router.aliases:
                    by_name[alias] = runtime_router
            self._routers, self._by_name, self._providers = routers, by_name, keep
        for runtime in gone:
            self._spawn(self._close_later(runtime))
        if probe_new and fresh:
            await asyncio.gather(*(self._initial_probe(runtime, model_type) for runtime, model_type in fresh))

    async def refresh_if_changed(self) -> None:
        async with self._db.transaction() as session:
            stamp = await repository.change_stamp(session)
        if stamp != self._stamp:
            await self.refresh(probe_new=True)

    async def _initial_probe(self, runtime: ProviderRuntime, model_type: ModelType) -> None:
        try:
            probe = await asyncio.wait_for(
                runtime.adapter.probe(model_type), timeout=min(5.0, runtime.config.timeout)
            )
        except (UpstreamError, TimeoutError, aiohttp.ClientError, KeyError, ValueError, TypeError) as exc:
            health.unreachable(runtime, self._model_of(runtime), _describe(exc))
            runtime.stats.next_probe_at = time.monotonic() + self._retry_seconds
            self._spawn(self._retry_until_healthy(runtime, model_type))
            return
        await self._apply_probe(runtime, probe)

    async def _retry_until_healthy(self, runtime: ProviderRuntime, model_type: ModelType) -> None:
        while self._providers.get(runtime.id) is runtime and not runtime.stats.healthy:
            delay = self._retry_seconds * (0.8 + 0.4 * random.random())
            runtime.stats.next_probe_at = time.monotonic() + delay
            await asyncio.sleep(delay)
            try:
                probe = await asyncio.wait_for(
                    runtime.adapter.probe(model_type), timeout=runtime.config.timeout
                )
            except (UpstreamError, TimeoutError, aiohttp.ClientError, KeyError, ValueError, TypeError) as exc:
                runtime.stats.last_error, runtime.stats.last_error_at = _describe(exc), time.time()
                continue
            health.reachable(runtime, self._model_of(runtime))
            await self._apply_probe(runtime, probe)

    async def _apply_probe(self, runtime: ProviderRuntime, probe: ProbeResult) -> None:
        """Keep what the upstream told us: the router's context is the smallest of its providers'."""
        router = self.router_by_id(runtime.router_id)
        if router is None:
            return
        if probe.max_context_length:
            current = router.max_context_length
            router.max_context_length = (
                min(current, probe.max_context_length) if current else probe.max_context_length
            )
        if probe.vector_size:
            router.vector_size = probe.vector_size
        async with self._db.transaction() as session:
            await repository.store_probe(session, router.id, router.max_context_length, router.vector_size)

    async def _close_later(self, runtime: ProviderRuntime) -> None:
        # Requests already running on this provider may still be streaming: let them finish.
        await asyncio.sleep(runtime.config.timeout + 5)
        await runtime.adapter.aclose()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for runtime in self._providers.values():
            await runtime.adapter.aclose()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UpstreamError):
        return exc.message
    if isinstance(exc, TimeoutError):
        return "probe timed out"
    return f"{type(exc).__name__}: {exc}"[:500]
