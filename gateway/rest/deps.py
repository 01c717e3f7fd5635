"""FastAPI dependencies shared by every domain's REST routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import service as auth
from gateway.auth.actor import Actor
from gateway.auth.tokens import TokenClaims
from gateway.rest.paging import Limit as Limit
from gateway.rest.paging import Skip as Skip
from gateway.rest.routing import (
    RequestSession,
    SessionRoute,
    open_request_session,
    request_session,
)

if TYPE_CHECKING:
    from gateway.runtime import Gateway

bearer = OAuth2PasswordBearer(tokenUrl="token", auto_error=False)


def gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


async def _gateway(request: Request) -> Gateway:
    # async on purpose: FastAPI runs a plain-function dependency in a worker thread, and that
    # hop on every request is measurable (CPU and tail latency).
    return gateway(request)


GW = Annotated["Gateway", Depends(_gateway)]


DB = Annotated[AsyncSession, Depends(open_request_session)]


async def _lazy_db(request: Request) -> RequestSession:
    return request_session(request)


# The request's session for a route that may not need one: opened by `await db.get()`.
LazyDB = Annotated[RequestSession, Depends(_lazy_db)]


async def _caller(request: Request, token: str | None) -> Actor:
    """The caller, read on the request's session when the route opens one anyway; otherwise
    on a pooled connection of its own (no ORM session: a fraction of the CPU), returned at
    once. /users/me then needs no session at all."""
    gw = gateway(request)
    route = request.scope.get("route")
    if isinstance(route, SessionRoute) and not route.opens_session:
        async with gw.db.statements() as conn:
            return await auth.actor_from_token(conn, gw.tokens, token)
    session = await request_session(request).get()
    return await auth.actor_from_token(session, gw.tokens, token)


async def _actor(request: Request, token: Annotated[str | None, Depends(bearer)]) -> Actor | None:
    """The caller, if the request carries a token (a bad one is a 401)."""
    return await _caller(request, token) if token else None


async def _signed_in(request: Request, token: Annotated[str | None, Depends(bearer)]) -> Actor:
    """The caller of a route that needs a login. Dependencies run before FastAPI validates
    the body, so an anonymous request is a 401 whatever its body, as in the legacy API."""
    return await _caller(request, token)


async def _claims(request: Request, token: Annotated[str | None, Depends(bearer)]) -> TokenClaims:
    """The verified token only, for operations that read the caller in their own first
    statement on their own connection (the chat flow); anonymous is a 401 before the body."""
    return auth.identify(gateway(request).tokens, token)


CurrentActor = Annotated[Actor | None, Depends(_actor)]
SignedIn = Annotated[Actor, Depends(_signed_in)]
Claims = Annotated[TokenClaims, Depends(_claims)]
