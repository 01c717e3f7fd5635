"""Per-request GraphQL context: the gateway, the caller (resolved once) and the loaders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from strawberry.types import Info as _Info

from gateway.auth import service as auth
from gateway.auth.actor import Actor, require_actor
from gateway.auth.tokens import TokenClaims
from gateway.graphql.loaders import Loaders

if TYPE_CHECKING:
    from gateway.runtime import Gateway

T = TypeVar("T")


@dataclass
class Context:
    gateway: Gateway
    request: HTTPConnection
    response: Any = None
    token: str | None = None
    # Set when the WebSocket layer has already counted this operation against the rate limit.
    admitted: bool = False
    _actor_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _actor_loaded: bool = False
    _actor_value: Actor | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Each resolver gets its own session: sibling resolvers run concurrently."""
        async with self.gateway.db.transaction() as session:
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A resolver's own read-only session (no transaction; see Database.read)."""
        async with self.gateway.db.read() as session:
            yield session

    @cached_property
    def loaders(self) -> Loaders:
        """This request's DataLoaders, created on first use."""
        return Loaders(self.gateway.db, self.actor, active_days=self.gateway.settings.active_days)

    async def actor(self) -> Actor | None:
        """The caller, read from the database once per request (role is never the token's)."""
        async with self._actor_lock:
            if not self._actor_loaded:
                self._actor_value, self._actor_loaded = await self.fresh_actor(), True
        return self._actor_value

    def with_actor(self, use: Callable[[Actor | None], T]) -> T:
        """`use(caller)` for a field that depends on who asks. Called at once when the caller
        is already read (always, once any resolver has asked): the field then costs no
        coroutine and no task of its own, as an async resolver would (graphql-core gathers
        a type's async fields in tasks). Otherwise an awaitable of it, which graphql-core
        awaits as it awaits an async resolver's result."""
        if self._actor_loaded:
            return use(self._actor_value)
        return cast(T, self._then_with_actor(use))

    async def _then_with_actor(self, use: Callable[[Actor | None], T]) -> T:
        return use(await self.actor())

    async def fresh_actor(self) -> Actor | None:
        """The caller read again now (a long-lived subscription re-checks it per event)."""
        if not self.token:
            return None
        async with self.gateway.db.statements() as conn:
            return await auth.actor_from_token(conn, self.gateway.tokens, self.token)

    def claims(self) -> TokenClaims:
        """The verified token only, for operations that read the caller in their own first
        statement (the chat flow); see auth.service.identify."""
        return auth.identify(self.gateway.tokens, self.token)

    async def require_actor(self) -> Actor:
        return require_actor(await self.actor())


Info = _Info[Context, None]
