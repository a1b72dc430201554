"""Probes for load balancers and orchestrators. Public by design: they reveal no data."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import DatabaseDep
from app.health import service
from app.health.schemas import Liveness, Readiness

router = APIRouter(prefix="/health", tags=["health"])


@router.get("", response_model=Liveness, summary="The process is alive")
async def live() -> Liveness:
    return Liveness()


@router.get(
    "/ready",
    response_model=Readiness,
    summary="The database is reachable and migrated to head",
    responses={503: {"model": Readiness, "description": "Not ready"}},
)
async def ready(database: DatabaseDep) -> JSONResponse:
    readiness = await service.check_readiness(database=database)
    return JSONResponse(
        readiness.model_dump(), status_code=200 if readiness.status == "ready" else 503
    )
