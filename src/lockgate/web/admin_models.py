"""Admin: routers (models) and their providers, with each provider's live health as this replica sees
it (healthy, cooling down, in flight, median latency and time to first token)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import APIRouter, Form, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from lockgate.api.deps import DbId, State
from lockgate.api.opengate.gateway_schemas import ProviderCreate, RouterCreate
from lockgate.gateway.runtime import ProviderRuntime
from lockgate.gateway.schemas import ModelType, ProviderType
from lockgate.web.render import ConsoleRoute, page, redirect
from lockgate.web.session import ModelAdmin

router = APIRouter(route_class=ConsoleRoute)
Wire = TypeVar("Wire", bound=BaseModel)


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
    return page(
        request,
        "admin_models.html",
        routers=routers,
        model_types=[t.value for t in ModelType],
        provider_types=[t.value for t in ProviderType],
    )


def _checked(schema: type[Wire], fields: dict[str, object]) -> Wire:
    """The form checked by the API's own request schema (same rules, e.g. the provider URL guard)."""
    try:
        return schema.model_validate({k: v for k, v in fields.items() if v not in (None, "")})
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from exc


@router.post("/ui/admin/models")
async def create_router(
    request: Request,
    principal: ModelAdmin,
    state: State,
    name: Annotated[str, Form(max_length=255)],
    type: Annotated[str, Form(max_length=64)],
    aliases: Annotated[str, Form(max_length=4096)] = "",
    cost_prompt_tokens: Annotated[str, Form(max_length=32)] = "",
    cost_completion_tokens: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    body = _checked(
        RouterCreate,
        {
            "name": name,
            "type": type,
            "aliases": [a.strip() for a in aliases.split(",") if a.strip()],
            "cost_prompt_tokens": cost_prompt_tokens,
            "cost_completion_tokens": cost_completion_tokens,
        },
    )
    await state.gateway_admin.create_router(principal.user_id, body.model_dump(mode="json"))
    return redirect(request, "/ui/admin/models")


@router.post("/ui/admin/models/{router_id}/providers")
async def create_provider(
    request: Request,
    router_id: DbId,
    principal: ModelAdmin,
    state: State,
    type: Annotated[str, Form(max_length=64)],
    url: Annotated[str, Form(max_length=2048)],
    model_name: Annotated[str, Form(max_length=255)],
    key: Annotated[str, Form(max_length=4096)] = "",
) -> Response:
    """Probed before it is saved: an unreachable upstream is refused (424) and nothing is stored."""
    body = _checked(
        ProviderCreate, {"router": router_id, "type": type, "url": url, "model_name": model_name, "key": key}
    )
    await state.gateway_admin.create_provider(principal.user_id, body.model_dump(mode="json"))
    return redirect(request, "/ui/admin/models")


@router.post("/ui/admin/models/providers/{provider_id}/delete")
async def delete_provider(request: Request, provider_id: DbId, _: ModelAdmin, state: State) -> Response:
    await state.gateway_admin.delete_provider(provider_id)
    return redirect(request, "/ui/admin/models")
