"""create_app(settings) → the ASGI app. Shared clients are built in the lifespan, never at import."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from lockgate import __version__
from lockgate.accounting.history import UsageHistory
from lockgate.accounting.limits import MemoryLimiter, RedisLimiter
from lockgate.accounting.login_throttle import LoginThrottle
from lockgate.accounting.recorder import UsageRecorder
from lockgate.accounting.service import Accountant
from lockgate.api import h2ogpte, ops
from lockgate.api.anthropic import messages as anthropic_messages
from lockgate.api.body_limit import BodyLimitMiddleware, BodyLimits
from lockgate.api.errors import install_error_handlers
from lockgate.api.h2ogpte import fallback as h2ogpte_fallback
from lockgate.api.json_text import LoneSurrogateGuard
from lockgate.api.llamacpp import extras
from lockgate.api.openai import embeddings, generation, media, models
from lockgate.api.openai.fast_lane import InferenceFastLane
from lockgate.api.openai.responses import routes as responses_routes
from lockgate.api.openapi import install_openapi
from lockgate.api.opengate import (
    admin_organizations,
    admin_providers,
    admin_roles,
    admin_routers,
    admin_tokens,
    admin_users,
    auth,
    collections,
    document_sync,
    documents,
    evaluation,
    me,
    parse,
    search,
    usage,
)
from lockgate.api.opengate import jobs as jobs_routes
from lockgate.config import Settings
from lockgate.conversations.completion import CompletionService
from lockgate.conversations.content import ContentService
from lockgate.conversations.grounding import Grounding
from lockgate.conversations.search_chat import GroundedChat
from lockgate.conversations.service import ConversationService
from lockgate.conversations.templates import TemplateService
from lockgate.gateway.admin import GatewayAdmin
from lockgate.gateway.bounds import UpstreamBounds
from lockgate.gateway.config_sync import sync_config_models
from lockgate.gateway.declared import ModelSettings
from lockgate.gateway.egress import EgressPolicy
from lockgate.gateway.health import status_of
from lockgate.gateway.registry import ModelRegistry
from lockgate.gateway.schemas import ENDPOINT_MODEL_TYPES, Endpoint, ModelType, ProviderType
from lockgate.gateway.service import GatewayService
from lockgate.identity.access import AccessService
from lockgate.identity.authenticator import Authenticator
from lockgate.identity.service import IdentityService
from lockgate.inference.engines import LocalEngines, default_models
from lockgate.job_work import job_work
from lockgate.jobs.queue import JobQueue, queue_place
from lockgate.jobs.service import JobService
from lockgate.jobs.worker import JobWorker
from lockgate.kit.crypto import SecretBox, load_or_create_secret
from lockgate.kit.db import Database
from lockgate.ops.metrics import LiveState, Metrics, ProviderSample
from lockgate.ops.middleware import RequestContextMiddleware
from lockgate.ops.readiness import ReadinessService
from lockgate.ops.tracing import Tracing, build_tracing
from lockgate.rag.chunk_reads import ChunkReads
from lockgate.rag.chunk_store import chunk_store_for
from lockgate.rag.embedding import Embedder
from lockgate.rag.evaluation import Evaluator
from lockgate.rag.ingestion import Ingestion
from lockgate.rag.job_uploads import JobUploads
from lockgate.rag.library import Library
from lockgate.rag.parse_pool import ParseLimits
from lockgate.rag.retrieval import Retriever
from lockgate.rag.service import RagService
from lockgate.rag.sync_jobs import SyncJobs
from lockgate.rag.uploads import Uploads
from lockgate.responses.service import ResponsesService
from lockgate.state import AppState
from lockgate.web import install_console

log = logging.getLogger("lockgate")
# Hot inference routes first: routes are matched in order.
SURFACES = (
    generation,
    embeddings,
    models,
    media,
    responses_routes,
    anthropic_messages,
    ops,
    auth,
    me,
    usage,
    admin_roles,
    admin_users,
    admin_organizations,
    admin_tokens,
    admin_routers,
    admin_providers,
    collections,
    evaluation,
    document_sync,
    documents,
    jobs_routes,
    search,
    parse,
    extras,
    h2ogpte,
)


def build_state(settings: Settings, metrics: Metrics, tracing: Tracing | None = None) -> AppState:
    db = Database(settings.resolved_database_url, pool_size=settings.db_pool_size)
    authenticator = Authenticator(db, settings.auth_cache_ttl_seconds)
    secret = load_or_create_secret(settings.secret_key, settings.data_dir)
    box = SecretBox(secret)
    bounds = UpstreamBounds(
        max_body_bytes=settings.upstream_max_body_bytes,
        max_line_bytes=settings.upstream_max_line_bytes,
        stream_deadline_seconds=settings.stream_deadline_seconds,
        stream_max_chunks=settings.stream_max_chunks,
    )
    engines = _engines(settings)
    registry = ModelRegistry(
        db,
        box,
        retry_seconds=settings.provider_retry_seconds,
        engines=engines,
        bounds=bounds,
        egress=EgressPolicy(settings.provider_allowed_networks),
        trace_configs=[tracing.client_trace_config()] if tracing is not None else None,
    )
    limiter = RedisLimiter(settings.redis_url) if settings.redis_url else MemoryLimiter()
    recorder = UsageRecorder(db, settings.data_dir / "journal", flush_seconds=settings.usage_flush_seconds)
    accountant = Accountant(limiter, recorder, metrics, lambda pid: _provider_name(registry, pid))
    gateway = GatewayService(
        registry,
        accountant,
        settings.provider_failure_threshold,
        settings.provider_cooldown_seconds,
        settings.qos_queue_seconds,
        settings.provider_retry_seconds,
        bounds,
        tracing,
    )
    metrics.watch(lambda: live_state(gateway))
    readiness = ReadinessService(
        db,
        gateway.models_health,
        limiter.ping if isinstance(limiter, RedisLimiter) else None,
    )
    store = chunk_store_for(db)
    embedder = Embedder(gateway, store, settings.rag_embedding_model)
    rag = RagService(db, store, embedder, Retriever(db, gateway, store, embedder.embeddings))
    parse_limits = ParseLimits(settings.parse_cpu_seconds, settings.parse_memory_mb)
    ingestion = Ingestion(db, gateway, embedder, store, parse_limits, ocr=engines.ocr)
    conversations = ConversationService(db)
    grounding = Grounding(rag, gateway)
    jobs = JobService(
        db,
        JobQueue(queue_place(settings.job_queue, settings.data_dir, settings.redis_url)),
        settings.jobs_per_user,
        settings.job_lease_seconds,
    )
    jobs.hold_for_jobs(JobUploads(db))  # a job's files go when it ends, however it ends
    return AppState(
        settings=settings,
        db=db,
        authenticator=authenticator,
        identity=IdentityService(db, authenticator, on_budget_change=limiter.budget_forget),
        access=AccessService(
            db,
            authenticator,
            settings.session_ttl_seconds,
            LoginThrottle(
                limiter,
                settings.login_failures_per_account,
                settings.login_failures_per_address,
                settings.login_window_seconds,
            ),
            settings.login_hashing_slots,
            max_key_lifetime_days=settings.max_key_lifetime_days,
        ),
        gateway=gateway,
        gateway_admin=GatewayAdmin(db, box, registry, on_change=authenticator.clear),
        accountant=accountant,
        usage_history=UsageHistory(db, recorder),
        rag=rag,
        grounded_chat=GroundedChat(grounding),
        evaluator=Evaluator(db, rag),
        library=Library(db, rag, store, conversations.session_counts),
        ingestion=ingestion,
        uploads=Uploads(db, ingestion, gateway, jobs),
        sync_jobs=SyncJobs(db, ingestion, jobs),
        jobs=jobs,
        conversations=conversations,
        completions=CompletionService(db, grounding),
        content=ContentService(gateway),
        chunk_reads=ChunkReads(db, rag),
        templates=TemplateService(db),
        responses=ResponsesService(db, rag),
        metrics=metrics,
        console_key=hashlib.sha256(b"lockgate-console-csrf|" + secret.encode()).digest(),
        readiness=readiness,
    )


def _engines(settings: Settings) -> LocalEngines:
    return LocalEngines(settings.local_threads) if settings.local_threads else LocalEngines()


def _provider_name(registry: ModelRegistry, provider_id: int) -> str:
    runtime = registry.provider(provider_id)
    return runtime.name if runtime is not None else str(provider_id)


def live_state(gateway: GatewayService) -> LiveState:
    """What the scrape-time gauges read: every provider's load and health, every queue."""
    now = time.monotonic()
    return LiveState(
        providers=[
            ProviderSample(
                model=router.name,
                provider=p.name,
                status=status_of(p.stats, now).value,
                inflight=p.stats.inflight,
                cooldown_seconds=max(0.0, p.stats.cooldown_until - now),
                failures=p.stats.failures_total,
                cooldowns=p.stats.cooldowns_total,
            )
            for router in gateway.registry.routers()
            for p in router.providers
        ],
        queued=gateway.queue_depths(),
    )


def served_models(settings: Settings) -> list[ModelSettings]:
    """The configured models, plus the installed local models (zero-config default)."""
    models = list(settings.models)
    if settings.local_models == "on" or (settings.local_models == "auto" and not models):
        taken = {name for m in models for name in (m.name, *m.aliases)}
        for default in default_models():
            if default["name"] not in taken and not taken & set(default["aliases"]):
                models.append(ModelSettings(**default))
    return models


async def load_local_engines(state: AppState, models: list[ModelSettings]) -> None:
    """Load the local engines the served models need, off the event loop. A model that fails to load
    is logged and its provider stays unhealthy: Lockgate still starts."""
    engines = state.gateway.registry.engines
    if engines is None:
        return
    for url in [p.url for m in models for p in m.providers if p.type == ProviderType.LOCAL and p.url]:
        try:
            await anyio.to_thread.run_sync(engines.load, [url])
        except Exception as exc:
            log.error("local model failed to load", extra={"model": url, "error": str(exc)})


async def _watch_registry(state: AppState) -> None:
    """Pick up router/provider changes made through other replicas."""
    while True:
        await asyncio.sleep(state.settings.registry_refresh_seconds)
        try:
            await state.gateway.registry.refresh_if_changed()
        except Exception:  # keep watching: a failed refresh keeps the previous registry
            log.exception("registry refresh failed")


def warn_if_rag_model_missing(state: AppState) -> None:
    """Declaring `models` switches the local defaults off while `rag_embedding_model` may still name one:
    say so loudly at start rather than on the first upload (which answers 503 until it is fixed)."""
    name = state.settings.rag_embedding_model
    router = state.gateway.registry.resolve(name)
    if router is None or router.type not in ENDPOINT_MODEL_TYPES[Endpoint.EMBEDDINGS]:
        served = [r.name for r in state.gateway.registry.routers() if r.type == ModelType.TEXT_EMBEDDINGS]
        log.error(
            f"RAG cannot work: rag_embedding_model '{name}' is not an embedding model served here; "
            "document uploads and semantic search will answer 503. Set rag_embedding_model to one of "
            f"{served or 'the embedding models you declare (none are declared)'}.",
            extra={"setting": "rag_embedding_model", "value": name, "embedding_models": served},
        )


def build_job_worker(state: AppState, slots: int) -> JobWorker:
    settings = state.settings
    work = job_work(
        state.uploads, state.sync_jobs, state.library, state.conversations, state.chunk_reads, state.content
    )
    return JobWorker(
        state.db,
        state.jobs,
        work,
        state.authenticator.principal_for_key,
        slots=slots,
        lease_seconds=settings.job_lease_seconds,
        max_attempts=settings.job_max_attempts,
        per_user=settings.jobs_per_user,
    )


def settle_heap() -> None:
    """Move everything built at startup (libraries, models, registry) out of the garbage collector's
    reach: a full collection then walks only what requests allocate. Under load, full collections over
    the startup heap were about half of the p99 latency at 64 connections (bench/README.md). No
    gc.collect() first: it cost 77 ms of every start, to free the ~2,700 cyclic leftovers of a first
    start's migrations (a few hundred kB, frozen once, never growing)."""
    gc.freeze()


def create_app(settings: Settings, freeze_startup_heap: bool = False) -> FastAPI:
    """`freeze_startup_heap`: for the server process (`lockgate serve`), not for processes that build
    many apps (tests), where frozen garbage would never be collected."""
    metrics = Metrics()
    tracing = build_tracing(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = build_state(settings, metrics, tracing)
        app.state.lockgate = state
        watchers: list[asyncio.Task[None]] = []
        worker: JobWorker | None = None
        try:
            result = await state.access.bootstrap(settings.master_key)
            if result.generated_master_key:
                # Printed once, on the first start only; it is stored hashed.
                print(
                    f"\n  Lockgate master key (shown once, store it now): {result.generated_master_key}\n",
                    flush=True,
                )
            await state.accountant.recorder.start()
            served = served_models(settings)
            await load_local_engines(state, served)
            await sync_config_models(state.db, state.gateway_admin.box, served, result.master_user_id)
            await state.gateway.registry.refresh(probe_new=True)
            warn_if_rag_model_missing(state)
            watchers.append(asyncio.create_task(_watch_registry(state)))
            watchers.append(asyncio.create_task(state.readiness.watch(settings.health_check_seconds)))
            if settings.job_workers > 0:
                worker = build_job_worker(state, settings.job_workers)
                await worker.start()
            if freeze_startup_heap:
                settle_heap()
            yield
        finally:
            if worker is not None:
                await worker.stop()  # jobs in flight go back to the queue, their current step undone
            state.jobs.queue.close()
            for watcher in watchers:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await state.accountant.recorder.stop()  # a graceful stop writes every usage row
            await state.accountant.limiter.close()
            await state.gateway.registry.close()
            state.ingestion.close()
            if state.gateway.registry.engines is not None:
                state.gateway.registry.engines.close()
            await state.db.dispose()
            if tracing is not None:
                await anyio.to_thread.run_sync(tracing.shutdown)  # exports the last spans

    app = FastAPI(
        title="Lockgate",
        version=__version__,
        description="Self-hosted, OpenAI-compatible generative-AI platform.",
        lifespan=lifespan,
        docs_url="/docs" if settings.public_api_docs else None,
        redoc_url="/redoc" if settings.public_api_docs else None,
        openapi_url="/openapi.json" if settings.public_api_docs else None,
        # Lockgate exports its own Prometheus metrics; FastAPI's OpenTelemetry probe costs ~6% per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    install_openapi(app, public=settings.public_api_docs)
    for module in SURFACES:
        app.include_router(module.router)
    install_console(app)
    app.include_router(h2ogpte_fallback.router)  # last: h2oGPTe routes not served answer 501
    # behind the lanes, which check their own bodies; answers in the dialect of the route it spares
    app.add_middleware(LoneSurrogateGuard, routes=[r for m in SURFACES for r in m.router.routes])
    # inside the request context: the lanes are logged and measured like any route
    app.add_middleware(InferenceFastLane, routes=[*generation.router.routes, *embeddings.router.routes])
    limits = BodyLimits(
        settings.max_request_body_bytes, settings.max_upload_bytes, settings.client_body_timeout_seconds
    )
    app.add_middleware(BodyLimitMiddleware, limits=limits)  # before any route reads or spools a body
    app.add_middleware(RequestContextMiddleware, metrics=metrics, tracing=tracing)
    return app
