from __future__ import annotations

from fastapi import APIRouter

from gateway.rest.deps import GW
from gateway.rest.routing import SessionRoute
from gateway.sessions.schemas import SystemInfo

router = APIRouter(tags=["system"], route_class=SessionRoute)


@router.get("/system/info", response_model=SystemInfo)
async def system_info(gw: GW) -> SystemInfo:
    """The tutor's version and LLM, or a 200 fallback with status "unavailable"."""
    return await gw.chatbot.system_info()
