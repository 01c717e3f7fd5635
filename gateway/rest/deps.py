"""FastAPI dependencies shared by every domain's REST routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import service as auth
from gateway.auth.actor import Actor
from gateway.rest.paging import Limit as Limit
from gateway.rest.paging import Skip as Skip

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


READ_METHODS = frozenset({"GET", "HEAD"})


async def _db(request: Request) -> AsyncIterator[AsyncSession]:
    """The request owns the transaction: commit on success, roll back on any error, and
    both happen before the response leaves (scope="function"). GET and HEAD only read: they
    get a read session (no BEGIN/COMMIT round trips; a write through it raises)."""
    db = gateway(request).db
    async with db.read() if request.method in READ_METHODS else db.transaction() as session:
        yield session


DB = Annotated[AsyncSession, Depends(_db, scope="function")]


async def _actor(
    request: Request, db: DB, token: Annotated[str | None, Depends(bearer)]
) -> Actor | None:
    if not token:
        return None
    actor = await auth.actor_from_token(db, gateway(request).tokens, token)
    request.state.actor = actor
    return actor


CurrentActor = Annotated[Actor | None, Depends(_actor)]
