"""/health, /health/liveness, /health/readiness (no auth) and /metrics (Prometheus; read_metric or admin)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from lockgate.api.deps import State, require
from lockgate.api.errors import UNAVAILABLE_RETRY_SECONDS
from lockgate.identity.schemas import Permission
from lockgate.ops.readiness import Readiness, ReadinessStatus

router = APIRouter(tags=["monitoring"])


class Status(BaseModel):
    status: Literal["ok"] = "ok"


class DependencyOut(BaseModel):
    status: Literal["up", "down"]
    latency_ms: float
    error: str | None = Field(default=None, description="Short reason; the log line has the detail.")


class ModelsOut(BaseModel):
    total: int
    without_healthy_provider: list[str] = Field(
        description="Models none of whose providers can take requests now (down, cooling or unreachable)."
    )


class ReadinessOut(BaseModel):
    status: ReadinessStatus = Field(
        description="ready; degraded (serving, but some model has no healthy provider); unready (the "
        "database or Redis cannot be reached: answered with 503)."
    )
    checks: dict[str, DependencyOut] = Field(description="`database`, and `redis` when configured.")
    models: ModelsOut


@router.get("/health", response_model=Status, summary="Health (compatibility)")
async def health() -> Status:
    """Always `{"status": "ok"}` while the process answers (as OpenGateLLM's). Probes should use
    `/health/liveness` and `/health/readiness`."""
    return Status()


@router.get("/health/liveness", response_model=Status, summary="Liveness probe")
async def liveness() -> Status:
    """The process is up and its event loop answers. Checks nothing else: restart only when this fails."""
    return Status()


@router.get(
    "/health/readiness",
    response_model=ReadinessOut,
    summary="Readiness probe",
    responses={503: {"model": ReadinessOut, "description": "The database or Redis cannot be reached."}},
)
async def readiness(state: State) -> JSONResponse:
    """Whether this replica can serve: the database and Redis (when configured) answer within 2 s.
    Models without a healthy provider make it `degraded` (still 200)."""
    report = await state.readiness.check()
    body = _readiness_out(report).model_dump(mode="json")
    if report.ready:
        return JSONResponse(body)
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)})


def _readiness_out(report: Readiness) -> ReadinessOut:
    return ReadinessOut(
        status=report.status,
        checks={
            d.name: DependencyOut(status="up" if d.up else "down", latency_ms=d.latency_ms, error=d.error)
            for d in report.dependencies
        },
        models=ModelsOut(
            total=len(report.models),
            without_healthy_provider=[m.model for m in report.models if m.healthy == 0],
        ),
    )


@router.get(
    "/metrics",
    dependencies=[Depends(require(Permission.READ_METRIC))],
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format."}},
)
async def metrics(state: State) -> Response:
    """Every series of this process (see docs/deployment.md). Needs `read_metric` or `admin`."""
    return Response(content=state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
