"""The per-process container: everything a request may need, built once per process.

A leaf of the import graph: both faces take it as their context, and the composition root
(gateway/app.py) builds it. It holds no per-user state, so several processes behind a load
balancer share only PostgreSQL (and Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from gateway import migrate
from gateway.adapters.broker import Broker, build_broker
from gateway.adapters.db_gate import GatedDatabase
from gateway.adapters.socket_leases import SocketLeases, build_leases
from gateway.adapters.tutor_client import Chatbot, build_http_client
from gateway.analytics import live
from gateway.auth.passwords import Passwords
from gateway.auth.tokens import Tokens
from gateway.config import Settings
from gateway.db import Database
from gateway.graphql.ide import GraphiQLAssets
from gateway.graphql.persisted import PersistedQueries
from gateway.observability import metrics
from gateway.ratelimit import RateLimits
from gateway.sessions.chat import sweep_stranded_messages

log = logging.getLogger("gateway")


class Gateway:
    """Everything a request may need, built once per process. Holds no per-user state:
    several processes behind a load balancer share only PostgreSQL (and Redis)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings)
        self.passwords = Passwords(settings)
        self.tokens = Tokens(settings)
        self.rate_limits = RateLimits(settings, self.tokens)
        metrics.instrument_pool(self.db.engine)
        self._http: httpx.AsyncClient | None = None
        self._chatbot: Chatbot | None = None
        self._broker: Broker | None = None
        self._socket_leases: SocketLeases | None = None
        self.stranded_sweep: asyncio.Task[None] | None = None
        self.stranded_swept = asyncio.Event()  # set after each pass of the sweep
        # The chat flow's share of the pool: the overflow stays free for other endpoints.
        self.chat_db = GatedDatabase(self.db, settings.chat_db_slots)
        self.persisted_queries = PersistedQueries(settings)
        self.graphiql_assets = GraphiQLAssets(settings.graphiql_assets_dir)

    @property
    def chatbot(self) -> Chatbot:
        assert self._chatbot is not None, "Gateway.start() was not called"
        return self._chatbot

    @property
    def broker(self) -> Broker:
        assert self._broker is not None, "Gateway.start() was not called"
        return self._broker

    @property
    def socket_leases(self) -> SocketLeases:
        assert self._socket_leases is not None, "Gateway.start() was not called"
        return self._socket_leases

    async def start(self) -> None:
        if self.settings.should_auto_migrate:
            log.info("applying migrations to %s", self.settings.database_url)
            await migrate.upgrade(self.settings)
        # One pooled client for every upstream call of this process.
        self._http = build_http_client(self.settings)
        if self.settings.otel_enabled:
            from gateway.observability.tracing import instrument_http_client

            instrument_http_client(self._http)
        self._chatbot = Chatbot(self._http, self.settings)
        self._broker = build_broker(self.settings.redis_url, self.settings.redis_timeout_seconds)
        self.db.sessionmaker.configure(info={live.BROKER: self._broker})  # after-commit events
        self._socket_leases = build_leases(
            self.settings.redis_url, self.settings.redis_timeout_seconds
        )
        # In the background: a locked or slow database must not hold up the start.
        self.stranded_sweep = asyncio.create_task(
            sweep_stranded_messages(
                self.db,
                upstream_timeout_seconds=self.settings.chatbot_timeout_seconds,
                interval_seconds=self.settings.stranded_sweep_seconds,
                swept=self.stranded_swept,
            )
        )

    async def stop(self) -> None:
        if self.stranded_sweep is not None:
            self.stranded_sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.stranded_sweep
        if self._broker is not None:
            await self._broker.close()
        if self._socket_leases is not None:
            await self._socket_leases.close()
        if self._http is not None:
            await self._http.aclose()
        await self.persisted_queries.close()
        await self.db.dispose()
        metrics.mark_process_dead()
