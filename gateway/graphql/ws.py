"""GraphQL over WebSocket, held to the same rules as a request.

- Messages go out as text frames: graphql-ws, Apollo, urql, GraphiQL and gql reject binary ones.
- Both subprotocols: graphql-transport-ws, and the older graphql-ws (subscriptions-transport-ws)
  unless turned off.
- connection_init authenticates the socket (token in its payload or the upgrade request's
  Authorization header), counts against the rate limit, and takes one of the user's socket
  leases (a per-user cap shared by every process).
- Every operation on the socket gets a fresh Context: its caller is re-read from the database
  (existence, role, token expiry) exactly like an HTTP request's, and the operation counts
  against the rate limit before it runs.
- A watchdog closes the socket (4401) when the token expires or the account is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types.execution import PreExecutionError
from strawberry.utils.aio import aclosing

from gateway.auth.tokens import bearer_token
from gateway.errors import DomainError, RateLimited, Unauthenticated
from gateway.graphql.context import Context
from gateway.ratelimit import Category

log = logging.getLogger("gateway.graphql.ws")
CLOSE_UNAUTHENTICATED = 4401


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """JSON messages as text frames (the HTTP face keeps orjson's bytes)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        if self.ws.application_state is WebSocketState.DISCONNECTED:
            return  # closed by the watchdog: nobody is there to read it
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


def token_from(params: Mapping[str, Any]) -> str | None:
    """connection_init payload: {"Authorization": "Bearer ..."} or {"token": "..."}."""
    for key in ("Authorization", "authorization"):
        value = params.get(key)
        if isinstance(value, str):
            return bearer_token(value)
    token = params.get("token")
    return token if isinstance(token, str) and token else None


@dataclass
class SocketContext(Context):
    """The socket's own state. Operations never see it: each runs on `for_operation()`."""

    connection_params: dict[str, Any] | None = None
    expires_at: float | None = None
    socket_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    _user: str | None = None
    _watchdog: asyncio.Task[None] | None = None

    def for_operation(self) -> Context:
        return Context(
            gateway=self.gateway, request=self.request, response=self.response, token=self.token
        )

    async def open(self) -> None:
        """Authenticate the socket at connection_init. Raises the DomainError that refuses it."""
        gw = self.gateway
        self.token = token_from(self.connection_params or {}) or self.token
        if not self.token:
            raise Unauthenticated()
        await gw.rate_limits.check(self.request.scope, self.token, {Category.DEFAULT: 1})
        claims = gw.tokens.verify(self.token)
        actor = await self.fresh_actor()
        assert actor is not None
        settings = gw.settings
        user = str(actor.id)
        if not await gw.socket_leases.acquire(
            user, self.socket_id, settings.ws_max_sockets_per_user, self._lease_seconds
        ):
            raise RateLimited(
                int(self._lease_seconds), detail="Too many open connections for this user"
            )
        self._user, self.expires_at = user, float(claims.expires_at)
        self._watchdog = asyncio.create_task(self._watch(), name=f"ws-watchdog-{self.socket_id}")

    @property
    def _lease_seconds(self) -> float:
        return 3 * self.gateway.settings.ws_recheck_seconds

    async def _watch(self) -> None:
        assert self.expires_at is not None and self._user is not None
        interval = self.gateway.settings.ws_recheck_seconds
        while True:
            remaining = self.expires_at - time.time()
            if remaining <= 0:
                await self._hang_up("Token expired")
                return
            await asyncio.sleep(min(interval, remaining))
            if time.time() >= self.expires_at:
                continue
            try:
                await self.fresh_actor()
            except Unauthenticated:
                await self._hang_up("Not authenticated")
                return
            except Exception:  # a database blip must not drop live sockets
                log.warning("could not re-check a socket's caller", exc_info=True)
            await self.gateway.socket_leases.renew(self._user, self.socket_id, self._lease_seconds)

    async def _hang_up(self, reason: str) -> None:
        close: Callable[..., Awaitable[None]] | None = getattr(self.request, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close(code=CLOSE_UNAUTHENTICATED, reason=reason)

    async def release(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watchdog
        if self._user is not None:
            await self.gateway.socket_leases.release(self._user, self.socket_id)
            self._user = None


def _refusal(exc: DomainError) -> PreExecutionError:
    error = GraphQLError(exc.detail, extensions={"code": exc.code, **exc.extensions})
    return PreExecutionError(data=None, errors=[error])


class OperationScopedSchema:
    """The schema as the socket handlers see it: each operation runs on its own Context and
    is counted against the rate limit first (a refusal is the operation's `error` message)."""

    def __init__(self, schema: Any) -> None:
        self._schema = schema

    def __getattr__(self, name: str) -> Any:
        return getattr(self._schema, name)

    async def stream(self, query: str | None, **kwargs: Any) -> AsyncGenerator[Any, None]:
        socket: SocketContext = kwargs.pop("context_value")
        return self._scoped(
            socket, lambda ctx: self._schema.stream(query, context_value=ctx, **kwargs)
        )

    async def subscribe(self, query: str | None, **kwargs: Any) -> AsyncGenerator[Any, None]:
        socket: SocketContext = kwargs.pop("context_value")
        return self._scoped(
            socket, lambda ctx: self._schema.subscribe(query, context_value=ctx, **kwargs)
        )

    async def _scoped(
        self, socket: SocketContext, start: Callable[[Context], Awaitable[Any]]
    ) -> AsyncGenerator[Any, None]:
        context = socket.for_operation()
        try:
            await socket.gateway.rate_limits.check(
                socket.request.scope, socket.token, {Category.DEFAULT: 1}
            )
        except RateLimited as exc:
            yield _refusal(exc)
            return
        context.admitted = True
        results = await start(context)
        async with aclosing(results):
            async for result in results:
                yield result


class _SocketRules:
    """What both subprotocols' handlers add: every operation on its own context (see
    OperationScopedSchema), and the socket's lease and watchdog released when it closes."""

    schema: Any
    context: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = OperationScopedSchema(self.schema)

    async def handle(self) -> None:
        try:
            await super().handle()  # type: ignore[misc]
        finally:
            if isinstance(self.context, SocketContext):
                await self.context.release()


class TransportWSHandler(_SocketRules, BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws (graphql-ws, Apollo, urql, gql, GraphiQL)."""


class LegacyWSHandler(_SocketRules, BaseGraphQLWSHandler[Context, None]):
    """The older graphql-ws protocol (subscriptions-transport-ws)."""
