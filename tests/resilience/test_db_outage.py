"""Database outage: the test starts its own PostgreSQL, stops it mid-run and starts it again.

During the outage both faces answer 503 quickly (not a hang, not a 500) and /health/ready says
so; once the database is back, the same app serves again without a restart. This runs in both
CI legs: it needs only the PostgreSQL binaries, not GATEWAY_TEST_DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway import migrate
from gateway.app import create_app
from tests.conftest import PASSWORD, make_settings


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version)
    path = found[-1] if found else shutil.which(name)
    assert path, f"PostgreSQL's {name} is needed for this test"
    return path


def _version(path: str) -> float:
    try:
        return float(path.split("/")[4])
    except (IndexError, ValueError):
        return 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@dataclass
class Postgres:
    """A throwaway cluster; run as the `postgres` user when we are root (initdb refuses root)."""

    data: str
    port: int

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=60)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self._run(_bin("initdb"), "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = os.path.join(self.data, "server.log")
        self._run(_bin("pg_ctl"), "-D", self.data, "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop")


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    data = tempfile.mkdtemp(prefix="gw-outage-")
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    server = Postgres(data=data, port=_free_port())
    server.init()
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(data, ignore_errors=True)


@asynccontextmanager
async def serving(postgres: Postgres, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(postgres.url, **overrides)
    await migrate.upgrade(settings)
    app: Any = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture
async def client(postgres: Postgres) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(postgres) as c:
        yield c


async def timed(request: Any) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await request
    return response, time.perf_counter() - started


async def test_outage_gives_503_and_recovers(client: httpx.AsyncClient, postgres: Postgres) -> None:
    body = {"username": "survivor", "email": "survivor@example.com", "password": PASSWORD}
    assert (await client.post("/register", json=body)).status_code == 201
    login = await client.post("/token", data={"username": "survivor", "password": PASSWORD})
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me_query = {"query": "{ me { username } }"}

    async def healthy() -> None:
        assert (await client.get("/users/me", headers=auth)).status_code == 200
        gql = await client.post("/graphql", json=me_query, headers=auth)
        assert gql.json() == {"data": {"me": {"username": "survivor"}}}
        ready = await client.get("/health/ready")
        assert ready.status_code == 200

    await healthy()
    postgres.stop()
    try:
        rest, rest_time = await timed(client.get("/users/me", headers=auth))
        assert rest.status_code == 503, rest.text
        assert rest.json() == {"detail": "Database unavailable, try again"}
        assert rest_time < 2

        gql, gql_time = await timed(client.post("/graphql", json=me_query, headers=auth))
        assert gql.status_code == 200
        assert [e["extensions"]["code"] for e in gql.json()["errors"]] == ["SERVICE_UNAVAILABLE"]
        assert "Internal" not in gql.text
        assert gql_time < 2

        ready, ready_time = await timed(client.get("/health/ready"))
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "database": "down"}
        assert ready_time < 2

        new_user = {"username": "latecomer", "email": "late@example.com", "password": PASSWORD}
        register, register_time = await timed(client.post("/register", json=new_user))
        assert register.status_code == 503 and register_time < 2
        token, _ = await timed(
            client.post("/token", data={"username": "survivor", "password": PASSWORD})
        )
        assert token.status_code == 503
        assert (await client.get("/health")).status_code == 200  # liveness is unaffected
    finally:
        postgres.start()
    await healthy()  # the same app, no restart: stale pooled connections are replaced


async def test_requests_in_flight_when_the_database_stops(
    client: httpx.AsyncClient, postgres: Postgres
) -> None:
    body = {"username": "inflight", "email": "inflight@example.com", "password": PASSWORD}
    await client.post("/register", json=body)
    login = await client.post("/token", data={"username": "inflight", "password": PASSWORD})
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

    async def burst() -> list[httpx.Response]:
        responses = []
        for _ in range(20):
            responses.append(await client.get("/users/me", headers=auth))
            gql = {"query": "{ me { username } }"}
            responses.append(await client.post("/graphql", json=gql, headers=auth))
        return responses

    try:
        stopping = asyncio.create_task(asyncio.to_thread(postgres.stop))
        batches = await asyncio.gather(*[burst() for _ in range(5)])
        await stopping
    finally:
        postgres.start()
    responses = [r for batch in batches for r in batch]
    statuses = {r.status_code for r in responses}
    assert statuses <= {200, 503}, statuses
    assert 503 in statuses  # the outage was seen
    codes = {
        e["extensions"]["code"]
        for r in responses
        if r.url.path == "/graphql"
        for e in r.json().get("errors", [])
    }
    assert codes <= {"SERVICE_UNAVAILABLE"}, codes
    assert (await client.get("/users/me", headers=auth)).status_code == 200


async def drop_gateway_connections(postgres: Postgres) -> int:
    """What a database restart or a firewall does to idle pooled connections."""
    import asyncpg

    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{postgres.port}/postgres")
    try:
        dropped = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'study-gateway'"
        )
    finally:
        await conn.close()
    return int(dropped)


async def until_dropped_and_idle(postgres: Postgres, *, idle_since: float, idle: float) -> None:
    """Until no gateway backend is left (pg_terminate_backend only signals them) and the
    pooled connections, checked in at `idle_since`, have sat idle for more than `idle`
    seconds."""
    import asyncpg

    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{postgres.port}/postgres")
    try:
        async with asyncio.timeout(10):
            # Another process's state: polled, no asyncio.Event can report it.
            while (  # noqa: ASYNC110
                await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'study-gateway'"
                )
                or time.monotonic() - idle_since <= idle
            ):
                await asyncio.sleep(0.01)
    finally:
        await conn.close()


@pytest.mark.parametrize("ping_after_idle, expected", [(0.05, {200}), (3600, {200, 503})])
async def test_connections_dropped_while_idle(
    postgres: Postgres, ping_after_idle: float, expected: set[int]
) -> None:
    """Connections idle longer than GATEWAY_DB_PING_AFTER_IDLE_SECONDS are tested before use,
    so the ones dropped while idle are replaced and no request sees it. The control case
    (a window longer than the test) shows what the ping saves: a 503, then recovery."""
    async with serving(postgres, db_ping_after_idle_seconds=ping_after_idle) as client:
        body = {"username": f"idle{int(ping_after_idle)}", "password": PASSWORD}
        await client.post("/register", json={**body, "email": f"{body['username']}@example.com"})
        token = (await client.post("/token", data=body)).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}

        async def me() -> int:
            return (await client.get("/users/me", headers=auth)).status_code

        assert set(await asyncio.gather(*[me() for _ in range(8)])) == {200}
        returned = time.monotonic()  # every pooled connection was checked in by now
        assert await drop_gateway_connections(postgres) >= 1
        # The control's window is never reached: there the dropped connections are used.
        idle = ping_after_idle if ping_after_idle < 60 else 0.0
        await until_dropped_and_idle(postgres, idle_since=returned, idle=idle)
        first = [await me() for _ in range(3)]
        assert set(first) <= expected and first[-1] == 200
        assert set(first) == expected
        assert set(await asyncio.gather(*[me() for _ in range(8)])) == {200}
