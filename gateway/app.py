"""Composition root: one Gateway (gateway/runtime.py) per process, two faces mounted over
the same services."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route, WebSocketRoute

from gateway.bodylimit import BodySizeLimit
from gateway.config import Settings
from gateway.graphql.ide import ASSETS_URL
from gateway.graphql.view import GatewayGraphQL
from gateway.middleware import CatchAll
from gateway.observability import metrics, metrics_endpoint
from gateway.observability.middleware import RequestObservability
from gateway.rest import errors as rest_errors
from gateway.rest.app import build_rest_app
from gateway.rest.dispatch import RestDispatch
from gateway.runtime import Gateway

__all__ = ["Gateway", "create_app"]


@asynccontextmanager
async def tuned_gc(settings: Settings) -> AsyncIterator[None]:
    """Objects built at start-up (schema, routes, caches) are moved out of the collector's way
    (gc.freeze) and young collections run less often. Measured on the profile benchmark:
    p99 170 -> 110 ms and about 15 % less CPU per request. Undone at shutdown."""
    previous = gc.get_threshold()
    if settings.gc_gen0_threshold:
        gc.set_threshold(settings.gc_gen0_threshold, *previous[1:])
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*previous)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    gateway = Gateway(settings)
    graphql = GatewayGraphQL(gateway)
    rest = build_rest_app(gateway)
    # FastAPI's own stack when traced: its instrumentation makes the REST route spans.
    rest_face = rest if settings.otel_enabled else RestDispatch(rest)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        metrics.precreate(metrics_endpoint.known_routes(rest))
        await gateway.start()
        try:
            async with tuned_gc(settings):
                yield
        finally:
            await gateway.stop()

    # GraphiQL's files are served only where the IDE is (not in production by default).
    ide_routes = (
        [Route(f"{ASSETS_URL}/{{path:path}}", gateway.graphiql_assets.serve, methods=["GET"])]
        if graphql.graphql_ide
        else []
    )
    app = Starlette(
        routes=[
            Route("/metrics", metrics_endpoint.metrics_endpoint, methods=["GET"]),
            *ide_routes,
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Mount("/", app=rest_face),
        ],
        middleware=[
            Middleware(RequestObservability),  # outermost: ids and metrics cover everything
            Middleware(CatchAll),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_credentials=True,
                allow_methods=["*"],
                allow_headers=["*"],
                expose_headers=["X-Request-ID", "Retry-After"],
            ),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lifespan,
        exception_handlers={404: rest_errors.not_found},
    )
    if settings.otel_enabled:  # off: nothing of OpenTelemetry is even imported
        from gateway.observability import tracing

        tracing.install(gateway.db.engine, rest, app.user_middleware)
    app.state.gateway = gateway
    return app
