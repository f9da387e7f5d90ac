"""/health (no auth) and /metrics (Prometheus; read_metric or admin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST

from lockgate.api.deps import State, require
from lockgate.identity.schemas import Permission

router = APIRouter(tags=["monitoring"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics", dependencies=[Depends(require(Permission.READ_METRIC))])
async def metrics(state: State) -> Response:
    return Response(content=state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
