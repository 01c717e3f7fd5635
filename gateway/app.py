"""Composition root: one Gateway per process, two faces over the same services."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route, WebSocketRoute

from gateway import migrate
from gateway.auth.passwords import Passwords
from gateway.auth.tokens import Tokens
from gateway.config import Settings
from gateway.db import Database
from gateway.graphql.persisted import PersistedQueries
from gateway.graphql.view import GatewayGraphQL
from gateway.middleware import CatchAll
from gateway.rest.app import build_rest_app

log = logging.getLogger("gateway")


class Gateway:
    """Everything a request may need, built once per process. Holds no per-user state:
    several processes behind a load balancer share only PostgreSQL (and Redis)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings)
        self.passwords = Passwords(settings)
        self.tokens = Tokens(settings)
        self.persisted_queries = PersistedQueries(settings)

    async def start(self) -> None:
        if self.settings.should_auto_migrate:
            log.info("applying migrations to %s", self.settings.database_url)
            await migrate.upgrade(self.settings)

    async def stop(self) -> None:
        await self.persisted_queries.close()
        await self.db.dispose()


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    gateway = Gateway(settings)
    graphql = GatewayGraphQL(gateway)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Mount("/", app=build_rest_app(gateway)),
        ],
        middleware=[
            Middleware(CatchAll),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_credentials=True,
                allow_methods=["*"],
                allow_headers=["*"],
                expose_headers=["X-Request-ID", "Retry-After"],
            ),
        ],
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    return app
