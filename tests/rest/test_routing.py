"""SessionRoute (gateway/rest/routing.py): the request's unit of work, owned by the route.

Routes with the REST face's own dependencies, on the gateway's real Database, driven over HTTP:
a write commits when the endpoint returns and is rolled back when anything raises (after the
write, in the endpoint or in the response's validation); a GET's session refuses writes; and a
session is opened only when a dependency asks for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import event, select, update

from gateway.rest.deps import DB
from gateway.rest.routing import SessionRoute
from gateway.runtime import Gateway
from gateway.users.models import User
from tests.conftest import Api


class Rename(BaseModel):
    full_name: str


class Strict(BaseModel):
    count: int


def routes(opened: list[str]) -> APIRouter:
    router = APIRouter(route_class=SessionRoute)

    async def rename(db: Any, username: str, full_name: str) -> None:
        opened.append(full_name)
        await db.execute(update(User).where(User.username == username).values(full_name=full_name))

    @router.post("/rename/{username}")
    async def commits(username: str, body: Rename, db: DB) -> dict[str, str]:
        await rename(db, username, body.full_name)
        return {"ok": "yes"}

    @router.post("/rename/{username}/then-fail")
    async def fails(username: str, body: Rename, db: DB) -> None:
        await rename(db, username, body.full_name)
        raise HTTPException(409, "refused after writing")

    @router.post("/rename/{username}/bad-response", response_model=Strict)
    async def bad_response(username: str, body: Rename, db: DB) -> Any:
        await rename(db, username, body.full_name)
        return {"count": "not a number"}  # the response fails validation: a 500

    @router.get("/no-database")
    async def no_database() -> dict[str, str]:
        return {"ok": "yes"}

    @router.get("/rename/{username}")
    async def get_writes(username: str, db: DB) -> None:
        await rename(db, username, "written by a GET")

    return router


@pytest.fixture
async def side(gateway: Gateway) -> AsyncIterator[tuple[httpx.AsyncClient, list[str]]]:
    opened: list[str] = []
    app = FastAPI()
    app.state.gateway = gateway
    app.include_router(routes(opened))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, opened


async def full_name(gateway: Gateway, username: str) -> str | None:
    async with gateway.db.read() as db:
        found: str | None = await db.scalar(select(User.full_name).where(User.username == username))
        return found


async def test_a_write_commits_when_the_endpoint_returns(
    api: Api, side: tuple[httpx.AsyncClient, list[str]]
) -> None:
    client, _ = side
    await api.user("rita")
    r = await client.post("/rename/rita", json={"full_name": "Rita Renamed"})
    assert r.status_code == 200
    assert await full_name(api.gateway, "rita") == "Rita Renamed"


@pytest.mark.parametrize("path", ["/rename/rita/then-fail", "/rename/rita/bad-response"])
async def test_a_write_is_rolled_back_when_anything_raises(
    api: Api, side: tuple[httpx.AsyncClient, list[str]], path: str
) -> None:
    client, opened = side
    await api.user("rita")
    r = await client.post(path, json={"full_name": "Never Stored"})
    assert r.status_code in (409, 500)
    assert opened == ["Never Stored"]  # the write ran before the failure
    assert await full_name(api.gateway, "rita") == "Rita"


async def test_a_get_cannot_write(api: Api, side: tuple[httpx.AsyncClient, list[str]]) -> None:
    client, _ = side
    await api.user("rita")
    r = await client.get("/rename/rita")
    assert r.status_code == 500  # ReadOnlyWrite: a bug, never a client error
    assert await full_name(api.gateway, "rita") == "Rita"


async def test_a_session_only_when_a_dependency_asks_for_it(
    api: Api, side: tuple[httpx.AsyncClient, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = side
    opened: list[str] = []
    db = api.gateway.db
    for kind in ("read", "transaction"):
        monkeypatch.setattr(db, kind, _counted(opened, kind, getattr(db, kind)))
    assert (await client.get("/no-database")).status_code == 200
    assert opened == []
    assert (await client.post("/rename/nobody", json={"full_name": "N"})).status_code == 200
    assert opened == ["transaction"]  # the check can fail


def _counted(opened: list[str], kind: str, scope: Any) -> Any:
    def opener() -> Any:
        opened.append(kind)
        return scope()

    return opener


@pytest.mark.parametrize(
    "method, path, status, opened",
    [
        ("GET", "/users/me", 200, ["statements"]),  # the caller's read brings the profile
        ("GET", "/sessions", 200, ["read"]),  # the caller is read on the route's own session
        ("PUT", "/users/me", 200, ["transaction"]),
        ("GET", "/users/nobody", 403, ["read"]),
    ],
)
async def test_one_connection_per_request_whoever_reads_the_caller(
    api: Api,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    status: int,
    opened: list[str],
) -> None:
    """On the real app: a route that opens the request's session reads the caller on it; one
    that does not (the profile) reads it on a pooled connection of its own (Database
    .statements), and opens nothing else. Either way a request holds one connection."""
    token = await api.user("rita")
    db = api.gateway.db
    pool = db.engine.sync_engine.pool
    checkouts: list[object] = []
    seen: list[str] = []
    for kind in ("read", "transaction", "statements"):
        monkeypatch.setattr(db, kind, _counted(seen, kind, getattr(db, kind)))

    def checked_out(*args: object) -> None:
        checkouts.append(args)

    event.listen(pool, "checkout", checked_out)
    try:
        body = {"full_name": "Rita R"} if method == "PUT" else None
        headers = {"Authorization": f"Bearer {token}"}
        r = await api.client.request(method, path, json=body, headers=headers)
    finally:
        event.remove(pool, "checkout", checked_out)
    assert r.status_code == status, r.text
    assert seen == opened
    assert len(checkouts) == 1
