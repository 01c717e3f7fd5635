"""Test harness: the real app over HTTP (httpx ASGI transport) on a real, freshly migrated
database. GATEWAY_TEST_DATABASE_URL picks the database: SQLite (default) or PostgreSQL, where
each run creates and drops its own database."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from opentelemetry import trace
from sqlalchemy import event
from sqlalchemy.engine import make_url

from gateway import migrate
from gateway.admin.service import create_user
from gateway.app import Gateway, create_app
from gateway.config import Settings
from gateway.models import Base
from gateway.users.models import Role
from gateway.users.schemas import RegisterInput
from tests.upstream_stub import Stub, ThreadServer

PASSWORD = "correct-horse-battery"
# Random-looking: production settings refuse low-variety secrets such as "x" * 40.
TEST_SECRET = "test-secret-Qm7vR2xK9pL4wT8nB3cJ6hF1dZ5gY0sAeU"


def _base_url() -> str:
    return os.environ.get("GATEWAY_TEST_DATABASE_URL", "sqlite")


@pytest.fixture(scope="session")
def is_postgres() -> bool:
    return _base_url().startswith("postgresql")


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    base = _base_url()
    if not base.startswith("postgresql"):
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    import asyncpg

    url = make_url(base)
    name = f"gw_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = url.set(drivername="postgresql", database=url.database or "postgres")
    conn = await asyncpg.connect(admin_dsn.render_as_string(hide_password=False))
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(admin_dsn.render_as_string(hide_password=False))
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": database_url,
        "jwt_secret": TEST_SECRET,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "auto_migrate": False,
        # High enough never to interfere; tests/ops builds apps with low limits of its own.
        "rate_limit_auth": "100000/minute",
        "rate_limit_chat": "100000/minute",
        "rate_limit_default": "100000/minute",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def chatbot_stub() -> Iterator[Stub]:
    """The upstream tutor: a real HTTP server (see tests/upstream_stub.py)."""
    stub = Stub()
    server = ThreadServer(stub.app).start()
    stub.url = server.url
    yield stub
    server.stop()


@pytest.fixture
def stub(chatbot_stub: Stub) -> Iterator[Stub]:
    chatbot_stub.reset()
    yield chatbot_stub
    chatbot_stub.reset()


@pytest.fixture(scope="session")
async def settings(database_url: str, chatbot_stub: Stub) -> Settings:
    s = make_settings(database_url, chatbot_url=chatbot_stub.url, chatbot_timeout_seconds=1.0)
    await migrate.upgrade(s)
    return s


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture(scope="session")
def gateway(app: Any) -> Gateway:
    gw: Gateway = app.state.gateway
    return gw


@pytest.fixture(autouse=True)
def _no_global_tracer_provider() -> Iterator[None]:
    """Tests trace through tracing.use() only. A provider installed globally would export over
    OTLP to nowhere for the rest of the run and switch on FastAPI's native telemetry in every
    later app (it turns on whenever a global provider is set)."""
    yield
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider), (
        "a test installed a global OpenTelemetry tracer provider"
    )


@pytest.fixture(autouse=True)
async def _clean_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "gateway" not in request.fixturenames and "api" not in request.fixturenames:
        return
    gw: Gateway = request.getfixturevalue("gateway")
    async with gw.db.transaction() as db:
        for table in reversed(Base.metadata.sorted_tables):
            await db.execute(table.delete())


class Api:
    """A thin client: REST calls, GraphQL calls, and account helpers."""

    def __init__(self, client: httpx.AsyncClient, gateway: Gateway) -> None:
        self.client = client
        self.gateway = gateway

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def register(self, username: str, **extra: Any) -> httpx.Response:
        body = {
            "username": username,
            "email": f"{username}@example.com",
            "password": PASSWORD,
            "full_name": username.title(),
            **extra,
        }
        return await self.client.post("/register", json=body)

    async def token(self, username: str, password: str = PASSWORD) -> str:
        response = await self.client.post(
            "/token", data={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    async def user(self, username: str, role: Role = Role.STUDENT) -> str:
        """Create an account with any role (as an operator would) and return its token."""
        data = RegisterInput(
            username=username,
            email=f"{username}@example.com",
            password=PASSWORD,
            full_name=username.title(),
            role=role,
        )
        async with self.gateway.db.transaction() as db:
            await create_user(db, self.gateway.passwords, data)
        return await self.token(username)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def api(client: httpx.AsyncClient, gateway: Gateway) -> Api:
    return Api(client, gateway)


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()


@pytest.fixture
def sql_counter(gateway: Gateway) -> AsyncIterator[StatementCounter] | Any:
    counter = StatementCounter()

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        counter.statements.append(statement)

    engine = gateway.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield counter
    event.remove(engine, "before_cursor_execute", record)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (GATEWAY_FORBID_SKIPS=1) a skipped test turns the run red."""
    if not os.environ.get("GATEWAY_FORBID_SKIPS"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        print(f"\n{skipped} test(s) skipped: not allowed in CI")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
