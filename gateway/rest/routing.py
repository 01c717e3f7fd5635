"""The REST face's route class: each request's database session, owned by the route.

The request owns its unit of work: the session opens when a dependency first asks for it (after
FastAPI has read the body), commits once the endpoint's response is built and rolls back when
anything raises (the endpoint, or a response that fails validation), both before the response
leaves and under a shield, as FastAPI's own exit was. A GET or HEAD only reads: it gets a read
session (no BEGIN/COMMIT round trips; a write through it raises).

FastAPI could do this with a `yield` dependency, and did: its machinery for those (an exit stack
per request, a context manager per dependency and an anyio cancel scope to shield the exit) was a
tenth of the CPU of a one-statement GET.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from functools import cached_property
from typing import TYPE_CHECKING, Any

from anyio import CancelScope
from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from gateway.db import Database

READ_METHODS = frozenset({"GET", "HEAD"})


class RequestSession:
    """The request's session, opened on first use and closed by SessionRoute."""

    __slots__ = ("_db", "_session", "_stack", "_write")

    def __init__(self, db: Database, write: bool, stack: AsyncExitStack) -> None:
        self._db = db
        self._write = write
        self._stack = stack
        self._session: AsyncSession | None = None

    async def get(self) -> AsyncSession:
        if self._session is None:
            scope = self._db.transaction() if self._write else self._db.read()
            self._session = await self._stack.enter_async_context(scope)
        return self._session


def request_session(request: Request) -> RequestSession:
    found: RequestSession = request.state.db
    return found


async def open_request_session(request: Request) -> AsyncSession:
    """The dependency of a route that uses the request's session: opened now."""
    return await request_session(request).get()


async def in_request_session(
    request: Request, handler: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Runs `handler` as the request's unit of work (see the module's docstring)."""
    db: Database = request.app.state.gateway.db
    stack = AsyncExitStack()
    request.state.db = RequestSession(db, request.method not in READ_METHODS, stack)
    try:
        response = await handler(request)
    except BaseException as error:
        with CancelScope(shield=True):  # a cancellation waits for the rollback
            await stack.__aexit__(type(error), error, error.__traceback__)
        raise
    with CancelScope(shield=True):  # ... and for the commit
        await stack.aclose()
    return response


class SessionRoute(APIRoute):
    """The route class of every domain router: FastAPI's handler, in the request's session.
    (gateway/rest/dispatch.py serves most requests without FastAPI's handler, in the same
    session scope.)"""

    @cached_property
    def opens_session(self) -> bool:
        """Whether a dependency of this route opens the request's session."""

        def opens(dependant: Dependant) -> bool:
            return dependant.call is open_request_session or any(
                opens(sub) for sub in dependant.dependencies
            )

        return opens(self.dependant)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle_in_session(request: Request) -> Response:
            return await in_request_session(request, handler)

        return handle_in_session
