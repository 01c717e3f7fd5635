from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway.rest.deps import GW
from gateway.rest.routing import SessionRoute
from gateway.system import service

router = APIRouter(tags=["system"], route_class=SessionRoute)


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers. Touches nothing else."""
    return {"status": "ok"}


@router.get("/health/ready", responses={503: {"description": "The database is unreachable"}})
async def ready(gw: GW) -> JSONResponse:
    """Readiness: the database answers a query."""
    if not await service.database_ready(gw.db):
        return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
