"""The REST compatibility face: the legacy API's paths, shapes and statuses over the services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request

from gateway import __version__, docs
from gateway.admin.rest import router as admin_router
from gateway.analytics.rest import router as professor_router
from gateway.auth.rest import router as auth_router
from gateway.rest import errors, openapi, paging
from gateway.rest.rate_limit import rest_rate_limit
from gateway.rest.system import router as system_router
from gateway.sessions.rest import router as sessions_router
from gateway.subjects.rest import router as subjects_router
from gateway.system.rest import router as system_info_router
from gateway.users.rest import router as users_router

if TYPE_CHECKING:
    from gateway.runtime import Gateway

ROUTERS = (
    auth_router,
    users_router,
    admin_router,
    system_router,
    subjects_router,
    professor_router,
    sessions_router,
    system_info_router,
)


async def route_checks(request: Request) -> None:
    """What every route checks once routed: the rate limit, then the page size. One dependency
    for both, since FastAPI's cost is per dependency."""
    await rest_rate_limit(request)
    await paging.enforce_page_size(request)


def build_rest_app(gateway: Gateway) -> FastAPI:
    app = FastAPI(
        title="Study-assistant gateway (REST)",
        version=__version__,
        description="REST compatibility face of the gateway. The GraphQL face is at /graphql.",
        docs_url=None,  # served from packaged assets by gateway.docs (works offline)
        redoc_url=None,
        openapi_url="/openapi.json",
        dependencies=[Depends(route_checks)],
        responses=errors.COMMON_RESPONSES,
    )
    app.state.gateway = gateway
    for router in ROUTERS:
        app.include_router(router)
    paging.install(app, gateway.settings)
    errors.install(app)
    openapi.install(app)
    docs.install(app)
    return app
