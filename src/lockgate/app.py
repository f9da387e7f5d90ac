"""create_app(settings) → the ASGI app. Shared clients are built in the lifespan, never at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lockgate import __version__
from lockgate.api import ops
from lockgate.api.errors import install_error_handlers
from lockgate.api.opengate import admin_organizations, admin_roles, admin_tokens, admin_users, auth, me
from lockgate.config import Settings
from lockgate.identity.access import AccessService
from lockgate.identity.authenticator import Authenticator
from lockgate.identity.service import IdentityService
from lockgate.kit.db import Database
from lockgate.ops.metrics import Metrics
from lockgate.ops.middleware import RequestContextMiddleware
from lockgate.state import AppState

log = logging.getLogger("lockgate")


def build_state(settings: Settings, metrics: Metrics) -> AppState:
    db = Database(settings.resolved_database_url, pool_size=settings.db_pool_size)
    authenticator = Authenticator(db, settings.auth_cache_ttl_seconds)
    return AppState(
        settings=settings,
        db=db,
        authenticator=authenticator,
        identity=IdentityService(db, authenticator),
        access=AccessService(db, authenticator, settings.session_ttl_seconds),
        metrics=metrics,
    )


def create_app(settings: Settings) -> FastAPI:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = build_state(settings, metrics)
        app.state.lockgate = state
        try:
            result = await state.access.bootstrap(settings.master_key)
            if result.generated_master_key:
                # Printed once, on the first start only; it is stored hashed.
                print(
                    f"\n  Lockgate master key (shown once, store it now): {result.generated_master_key}\n",
                    flush=True,
                )
            yield
        finally:
            await state.db.dispose()

    app = FastAPI(
        title="Lockgate",
        version=__version__,
        description="Self-hosted, OpenAI-compatible generative-AI platform.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for module in (ops, auth, me, admin_roles, admin_users, admin_organizations, admin_tokens):
        app.include_router(module.router)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app
