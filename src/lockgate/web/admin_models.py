"""Admin: routers (models) and their providers, with each provider's live health as this replica sees
it (healthy, cooling down, in flight, median latency and time to first token)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response

from lockgate.api.deps import DbId, State
from lockgate.gateway.registry import ProviderRuntime
from lockgate.web.render import ConsoleRoute, page, redirect
from lockgate.web.session import ModelAdmin

router = APIRouter(route_class=ConsoleRoute)


@dataclass(frozen=True, slots=True)
class Health:
    status: str  # healthy | cooling down | unreachable
    inflight: int
    latency_ms: float | None
    ttft_ms: float | None


def health(provider: ProviderRuntime, now: float) -> Health:
    stats = provider.stats
    status = "unreachable" if not stats.healthy else "cooling down" if stats.cooling_down(now) else "healthy"
    return Health(status, stats.inflight, stats.latency_ms.median(), stats.ttft_ms.median())


@router.get("/ui/admin/models")
async def models(request: Request, _: ModelAdmin, state: State) -> Response:
    now = time.monotonic()
    routers = [(r, [(p, health(p, now)) for p in r.providers]) for r in state.gateway.registry.routers()]
    return page(request, "admin_models.html", routers=routers)


@router.post("/ui/admin/models/providers/{provider_id}/delete")
async def delete_provider(request: Request, provider_id: DbId, _: ModelAdmin, state: State) -> Response:
    await state.gateway_admin.delete_provider(provider_id)
    return redirect(request, "/ui/admin/models")
